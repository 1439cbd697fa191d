"""A command line that fits people's habits: --version, -h, help alone, one meaning per short flag,
--json, rich tables on a terminal and markdown elsewhere, plain progress lines off a terminal, suites
of tasks and models in one command (one model load each), check and baseline over folders."""

from __future__ import annotations

import io
import json
import shutil
import xml.etree.ElementTree as ET
from collections import defaultdict

import pytest
import typer

from report_fixtures import cli_main, report_inputs  # noqa: F401 (fixture)
from ibench.core.registry import task_files


def test_version_help_and_no_arguments(capsys):
    from ibench import __version__

    assert cli_main(["--version"], capsys)[:2] == (0, f"ibench {__version__}\n")
    for args in (["-h"], ["--help"], [], ["list"], ["human"], ["run", "-h"], ["human", "stats", "-h"]):
        code, out, err = cli_main(args, capsys)
        assert code == 0 and "Usage" in out + err and "Traceback" not in err, args


def test_no_short_flag_means_two_things():
    from ibench.cli import app

    meanings = defaultdict(set)

    def walk(cmd) -> None:  # noqa: ANN001
        for p in getattr(cmd, "params", []):
            longs = [o for o in p.opts + p.secondary_opts if o.startswith("--")]
            for o in p.opts + p.secondary_opts:
                if o.startswith("-") and not o.startswith("--"):
                    meanings[o].add(longs[0] if longs else p.name)
        for sub in getattr(cmd, "commands", {}).values():
            walk(sub)

    walk(typer.main.get_command(app))
    assert {k: v for k, v in meanings.items() if len(v) > 1} == {}
    assert meanings["-t"] == {"--task"} and len(meanings) >= 8  # (-h is --help everywhere: see above)


def test_list_json(capsys):
    code, out, _ = cli_main(["list", "tasks", "--json"], capsys)
    tasks = json.loads(out)
    assert code == 0 and len(tasks) == len(task_files()) and {"name", "family", "metrics", "capabilities"} <= set(tasks[0])
    code, out, _ = cli_main(["list", "models", "--json"], capsys)
    models = {m["name"]: m for m in json.loads(out)}
    assert code == 0 and models["tiny"]["defaults"] == {"size": 64, "steps": 2, "strength": 0.9}


def test_output_format_follows_the_terminal_and_ci(monkeypatch):
    import sys

    from ibench.cli.output import choose_format
    from ibench.errors import IbenchError

    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    assert choose_format(None) == "table" and choose_format("md") == "md" and choose_format(None, True) == "json"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", "/tmp/summary.md")
    assert choose_format(None) == "md"  # GitHub Actions: markdown by default
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False, raising=False)
    assert choose_format(None) == "md"  # a pipe or a log file
    with pytest.raises(IbenchError, match="choose table, md or json"):
        choose_format("html")
    with pytest.raises(IbenchError, match="disagree"):
        choose_format("md", True)


def test_progress_is_plain_lines_off_a_terminal():
    from ibench.progress import LineProgress, progress

    stream = io.StringIO()
    bar = progress(10, "runs/x", "img", stream=stream)
    assert isinstance(bar, LineProgress)
    bar.every = 0.0
    for _ in range(10):
        bar.update(1)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue() and lines[-1].startswith("runs/x: 10/10 img (100%), ")
    assert len(lines) == 10 and lines[0].startswith("runs/x: 1/10 img (10%)")
    quiet = io.StringIO()
    progress(10, "x", enabled=False, stream=quiet).update(10)
    assert quiet.getvalue() == ""


def test_suites_of_tasks_and_models_load_each_model_once(shared_data, tmp_path, capsys, monkeypatch):
    import ibench.cli.run as run_cli

    loads = []
    real = run_cli.load_model

    def counting(name, *args, **kwargs):  # noqa: ANN001, ANN202
        loads.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(run_cli, "load_model", counting)
    monkeypatch.setenv("IBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, out, err = cli_main(["generate", "--task", "style_subject,txt2img", "--model", "tiny", "--model",
                               "references", "-d", shared_data, "-n", "1", "-k", "1", "-o", tmp_path / "runs"], capsys)
    assert code == 0, err
    made = sorted(p.name.rsplit("-", 1)[0] for p in (tmp_path / "runs").iterdir())
    assert made == ["style_subject-references", "style_subject-tiny", "txt2img-tiny"]
    assert loads == ["tiny", "references"]  # one load per model, for all its tasks
    assert "skip txt2img for references: model 'references' returns a reference image" in err
    assert out.count(" generated, ") == 3
    # --task all / --family: the registered tasks of the family, in order; a wrong family is one line
    from ibench.cli.suite import select_tasks

    assert len(select_tasks(["all"], None)) == len(task_files())
    assert [s.name for s in select_tasks(None, ["zero_shot"])] == [
        "multi_subject", "style_control", "style_subject", "style_subject_control", "subject_control"]
    code, _, err = cli_main(["generate", "--family", "zero-shot", "-o", tmp_path / "x"], capsys)
    assert code == 2 and "unknown task family 'zero-shot'; did you mean 'zero_shot'?" in err
    # a single task keeps the one-line refusal it had
    code, _, err = cli_main(["generate", "-t", "txt2img", "-m", "references", "-d", shared_data, "-o", tmp_path / "y"],
                            capsys)
    assert code == 2 and "returns a reference image" in err


def test_check_and_baseline_over_a_folder_of_runs(report_inputs, tmp_path, capsys):
    folder = tmp_path / "runs"
    folder.mkdir()
    for run in report_inputs.runs:
        shutil.copytree(run, folder / run.name)
    code, out, _ = cli_main(["baseline", folder, "--out", tmp_path / "base"], capsys)
    assert code == 0 and sorted(p.name for p in (tmp_path / "base").iterdir()) == [
        "style_subject.references.json", "style_subject.tiny.json"]
    code, out, _ = cli_main(["check", folder, "--baseline", tmp_path / "base", "--junit", tmp_path / "j.xml",
                             "--json"], capsys)
    doc = json.loads(out)
    assert code == 0 and doc["passed"] and len(doc["runs"]) == 2 and doc["notes"] == []
    suites = ET.parse(tmp_path / "j.xml").getroot().findall("testsuite")
    assert len(suites) == 2 and all(int(s.get("failures")) == 0 for s in suites)
    # the terminal table and the markdown say the same
    code, out, _ = cli_main(["check", folder, "--baseline", tmp_path / "base", "--format", "table"], capsys)
    assert code == 0 and "PASS: no metric regressed" in out and "┃" in out and "| metric |" not in out
    code, out, _ = cli_main(["check", folder, "--baseline", tmp_path / "base", "--format", "md"], capsys)
    assert code == 0 and out.count("**PASS**") == 2 and "| metric |" in out
    # a baselined run missing is a failure; a run without a baseline is said, not failed
    shutil.rmtree(folder / report_inputs.runs[1].name)
    code, out, _ = cli_main(["check", folder, "--baseline", tmp_path / "base", "--format", "md"], capsys)
    assert code == 1 and "no run for baseline style_subject." in out
    (tmp_path / "base" / "style_subject.references.json").unlink()
    (tmp_path / "base" / "style_subject.tiny.json").rename(tmp_path / "base" / "other.json")
    shutil.copytree(report_inputs.runs[1], folder / report_inputs.runs[1].name)
    code, out, _ = cli_main(["check", folder, "--baseline", tmp_path / "base", "--format", "md"], capsys)
    assert code == 0 and f"no baseline for run {report_inputs.runs[1].name}" in out
    code, out, _ = cli_main(["compare", *report_inputs.runs, "--format", "table"], capsys)
    assert code == 0 and "B references − A tiny" in out and "┃" in out
