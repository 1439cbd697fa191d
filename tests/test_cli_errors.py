"""Bad input: one-line error naming the file/field, non-zero exit, nothing already written lost."""

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from ibench.core.registry import task_files


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def existing_run(cli, shared_data, tmp_path):
    out = tmp_path / "runs"
    code, _, err = cli("run", "--task", "style_subject", "--model", "tiny", "--limit", "2", "--samples", "1",
                       "--data-dir", shared_data, "--out", out, "--no-score")
    assert code == 0, err
    return out, snapshot(out)


def instruction_line(text, images, kind="subject"):
    refs = [{"marker": "ref#1", "kind": kind, "caption": "the dog", "images": images}]
    return json.dumps({"instruction": {"text": text, "references": refs, "target_prompt": "a dog"}})


def bad_inputs(tmp_path: Path, shared_data: Path) -> dict:
    bad_yaml = tmp_path / "style_gen.yaml"
    bad_yaml.write_text(Path(task_files()["style_gen"]).read_text() + "colour: blue\n")
    cases = {"unknown key": (["--task", bad_yaml], "style_gen.yaml: key 'colour': unknown key")}
    corrupt_root = tmp_path / "corrupt-root"
    shutil.copytree(shared_data / "dreambench" / "dog", corrupt_root / "dreambench" / "dog")
    (corrupt_root / "dreambench" / "dog" / "00.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    lines = {
        "marker not defined": (instruction_line("[ref#1] with [ref#2]", ["dreambench/dog/00.jpg"]),
                               "ref#2] is used in the text but not defined", shared_data),
        "path escapes root": (instruction_line("[ref#1]", ["../../etc/passwd"]), "escapes the data root", shared_data),
        "missing image": (instruction_line("[ref#1]", ["dreambench/dog/77.jpg"]), "not found", shared_data),
        "corrupt image": (instruction_line("[ref#1]", ["dreambench/dog/00.jpg"]), "does not decode", corrupt_root),
    }
    for name, (line, message, root) in lines.items():
        path = tmp_path / f"{name.replace(' ', '_')}.jsonl"
        path.write_text(instruction_line("[ref#1]", ["dreambench/dog/01.jpg"]) + "\n" + line + "\n")
        cases[name] = (["--task", "subject_gen", "--instances", path, "--data-dir", root], f"{path.name}:2: ")
        cases[name + " (message)"] = (cases[name][0], message)
    cases["unknown task"] = (["--task", "style_subjet"], "unknown task 'style_subjet'; did you mean 'style_subject'?")
    cases["unknown model"] = (["--task", "style_subject", "--model", "dalle9"], "unknown model 'dalle9'")
    cases["bad model module"] = (["--task", "style_subject", "--model", "nowhere.mod:Model"], "cannot import model module")
    return cases


def test_bad_inputs_fail_cleanly(cli, existing_run, shared_data, tmp_path):
    out, before = existing_run
    for name, (args, message) in bad_inputs(tmp_path, shared_data).items():
        if "--data-dir" not in args:
            args = [*args, "--data-dir", shared_data]
        code, stdout, err = cli("run", *args, "--model-arg", "steps=2", "--limit", "2", "--out", out, "--no-score") \
            if "--model" not in args else cli("run", *args, "--limit", "2", "--out", out, "--no-score")
        assert code == 2, f"{name}: exit {code}\n{err}"
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), f"{name}: not one line:\n{err}"
        assert message in lines[0], f"{name}: {lines[0]}"
        assert "Traceback" not in err
        assert snapshot(out) == before, f"{name}: something already written changed"


def test_missing_data_dir_says_what_to_do(cli, tmp_path):
    code, _, err = cli("run", "--task", "style_subject", "--data-dir", tmp_path / "nope", "--no-score")
    assert code == 2 and "ibench data fetch" in err and "synthetic" in err


def test_validate_reports_each_file(cli, tmp_path):
    good = Path(task_files()["txt2img"])
    bad = tmp_path / "txt2img.yaml"
    bad.write_text(good.read_text().replace("samples: 4", "samples: 4\nsamples: 5"))
    code, out, err = cli("validate", good, bad)
    assert code == 1 and f"ok    {good}" in out and "duplicate key 'samples'" in err
    code, out, _ = cli("validate")
    assert code == 0 and out.count("ok ") == len(task_files())


def test_list_and_help(cli):
    code, out, _ = cli("list", "tasks")
    assert code == 0 and "style_subject_control" in out and "zero_shot" in out
    code, out, _ = cli("list", "models")
    assert code == 0 and "tiny" in out and "folder" in out and "references" in out
    for command in (["run"], ["generate"], ["validate"], ["instances"], ["data", "prepare"]):
        code, out, _ = cli(*command, "--help")
        assert code == 0 and "--" in out


def one_error_line(code, err, message):
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), f"exit {code}:\n{err}"
    assert message in lines[0] and "Traceback" not in err, lines[0]


def test_usage_errors_are_one_line_not_tracebacks(cli):
    """typer vendors click (typer._click): its usage errors must not escape as tracebacks."""
    for args, message in [(["generate", "--task", "txt2img", "--limit", "0"], "Invalid value for '--limit'"),
                          (["run", "--task", "txt2img", "--samples", "0"], "Invalid value for '--samples'"),
                          (["generate"], "give --task NAME"),
                          (["generate", "--task", "txt2img", "--bogus"], "No such option: --bogus")]:
        code, _, err = cli(*args)
        one_error_line(code, err, message)
    code, out, err = cli()  # no command: the help, exit 0, no traceback
    assert code == 0 and "Usage" in out + err and "Traceback" not in err


USER_ADAPTERS = '''
from ibench.models.base import ModelAdapter, ALL_CAPABILITIES
class NotAdapter: pass
class Boom(ModelAdapter):
    capabilities = ALL_CAPABILITIES
    def __init__(self, **options):
        raise RuntimeError("no GPU here")
    def generate(self, batch): return []
class Abstract(ModelAdapter):
    capabilities = ALL_CAPABILITIES
'''


def test_bad_model_settings_and_adapters_fail_cleanly(cli, existing_run, shared_data, tmp_path, monkeypatch):
    out, before = existing_run
    (tmp_path / "user_adapters_x.py").write_text(USER_ADAPTERS)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    (tmp_path / "unknown.yaml").write_text("stepz: 3\n")
    (tmp_path / "afile").write_text("x")
    cases = [
        (["-a", "steps=abc"], "model 'tiny': setting 'steps' must be a whole number >= 1, not 'abc'"),
        (["-a", "size=-1"], "setting 'size' must be a whole number >= 1, not -1"),
        (["-a", "strength=2"], "setting 'strength' must be in (0, 1]"),
        (["-a", "stepz=3"], "unknown setting 'stepz'"),
        (["-a", "steps=[1"], "--model-arg 'steps=[1': the value is not valid YAML"),
        (["--model-config", tmp_path / "list.yaml"], "list.yaml: a model config must be a mapping of keys, not list"),
        (["--model-config", tmp_path / "unknown.yaml"], "unknown setting 'stepz'"),
        (["-m", "folder", "-a", f"dir={tmp_path / 'nope'}"], "model 'folder': dir"),
        (["-m", "folder", "-a", f"dir={tmp_path / 'afile'}"], "is a file, not a folder"),
        (["-m", "sd-composite", "-a", "controlnets=abc"], "setting 'controlnets' must be a mapping"),
        (["-m", "user_adapters_x:NotAdapter"], "is not a ModelAdapter subclass"),
        (["-m", "user_adapters_x:Missing"], "module 'user_adapters_x' has no class 'Missing'"),
        (["-m", "user_adapters_x:Boom"], "failed to start: RuntimeError: no GPU here"),
        (["-m", "user_adapters_x:Abstract"], "does not implement generate()"),
        # refused before any weights load (offline, the missing weights would otherwise be the message)
        (["-m", "text2img"], "model 'text2img' cannot use the style, subject references"),
        (["-t", "txt2img", "-m", "references"], "model 'references' returns a reference image"),
        (["-o", tmp_path / "afile"], "cannot write the run directory"),
    ]
    for extra, message in cases:
        task = [] if "-t" in extra else ["-t", "style_subject"]
        code, _, err = cli("generate", *task, "-d", shared_data, "-n", "1", "-k", "1", "-o", out, *extra)
        one_error_line(code, err, message)
        assert snapshot(out) == before, f"{extra}: something already written changed"
    (tmp_path / "empty.yaml").write_text("")  # an empty model config is no settings
    code, _, err = cli("generate", "-t", "style_subject", "-d", shared_data, "-n", "2", "-k", "1", "-o", out,
                       "--model-config", tmp_path / "empty.yaml")
    assert code == 0 and "Traceback" not in err


def test_instances_file_shapes(cli, shared_data, tmp_path):
    good = json.loads(instruction_line("[ref#1] on a beach", ["dreambench/dog/00.jpg"]))
    cases = {"[1, 2]": "each line must be a JSON object with an 'instruction'",
             "{}": "each line must be a JSON object with an 'instruction'",
             json.dumps({**good, "meta": "x"}): "key 'meta': Input should be a valid dictionary",
             json.dumps({**good, "checklist": [1]}): "key 'checklist.0'",
             json.dumps({**good, "extra": 1}): "unknown key 'extra'",
             json.dumps({**good, "id": "../../escape"}): "key 'id': '../../escape' must be",
             json.dumps({**good, "id": "a/b"}): "key 'id': 'a/b' must be"}
    out = tmp_path / "runs"
    for line, message in cases.items():
        path = tmp_path / "mine.jsonl"
        path.write_text(line + "\n")
        code, _, err = cli("generate", "-t", "subject_gen", "--instances", path, "-d", shared_data, "-k", "1",
                           "-o", out)
        one_error_line(code, err, f"mine.jsonl:1: {message}")
    assert not out.exists() and not (tmp_path / "escape").exists()


def test_instances_export_errors(cli, shared_data, tmp_path):
    code, _, err = cli("instances", "-t", "txt2img", "-d", shared_data, "-n", "1", "-o", tmp_path)
    one_error_line(code, err, f"--out {tmp_path}: cannot write")
