"""The bad-input catalogue (tests/bad_inputs.py builds each case): every case ends in exactly one
``error:`` line naming the file or field, exit 2, no traceback, and every file that existed before
(the case's inputs, the scored run, the baseline, the rating database) byte-identical afterwards."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import bad_inputs as b
from bad_inputs import BAD_UTF8, Workbench, drop, first_metric, gen, line, setitem
from conftest import isolated

T = ["-t", "style_subject"]
CASES = {
    # task YAML files (--task PATH)
    "task: invalid UTF-8": lambda w: (gen(w, "-t", w.task(raw=BAD_UTF8)), ["style_subject.yaml", "not UTF-8"]),
    "task: NUL byte": lambda w: (gen(w, "-t", w.task(lambda t: t.replace("family", "fam\x00ily", 1))),
                                 ["style_subject.yaml", "invalid YAML"]),
    "task: unknown key": lambda w: (gen(w, "-t", w.task(lambda t: t + "colour: blue\n")), ["style_subject.yaml", "'colour'"]),
    "task: duplicate key": lambda w: (gen(w, "-t", w.task(lambda t: t + "samples: 9\n")),
                                      ["style_subject.yaml", "duplicate key 'samples'"]),
    "task: a list": lambda w: (gen(w, "-t", w.task(raw=b"- 1\n- 2\n")), ["style_subject.yaml", "mapping"]),
    "task: empty": lambda w: (gen(w, "-t", w.task(raw=b"")), ["style_subject.yaml"]),
    "task: wrong type": lambda w: (gen(w, "-t", w.task(lambda t: t.replace("samples: ", "samples: many #", 1))),
                                   ["style_subject.yaml", "samples"]),
    "task: missing key": lambda w: (gen(w, "-t", w.task(lambda t: "\n".join(x for x in t.splitlines()
                                                                           if not x.startswith("family:")))),
                                    ["style_subject.yaml", "family"]),
    "task: bad YAML syntax": lambda w: (gen(w, "-t", w.task(lambda t: t + "oops: [unclosed\n")),
                                        ["style_subject.yaml", "invalid YAML"]),
    "task: unknown metric": lambda w: (gen(w, "-t", w.task(lambda t: t.replace("clip_t", "clip_tt", 1))),
                                       ["style_subject.yaml", "clip_tt"]),
    "task: missing file": lambda w: (gen(w, "-t", w.tmp / "nope.yaml"), ["nope.yaml"]),
    # instance files (--instances)
    "instances: invalid UTF-8": lambda w: (b.inst(w, BAD_UTF8), ["mine.jsonl", "UTF-8"]),
    "instances: NUL byte": lambda w: (b.inst(w, line().replace("dog", "d\x00og", 1)),
                                      ["mine.jsonl:1"]),
    "instances: invalid JSON": lambda w: (b.inst(w, "{nope"), ["mine.jsonl:1", "JSON"]),
    "instances: a list": lambda w: (b.inst(w, "[1, 2]"), ["mine.jsonl:1", "instruction"]),
    "instances: no instruction": lambda w: (b.inst(w, "{}"), ["mine.jsonl:1"]),
    "instances: unknown key": lambda w: (b.inst(w, line()[:-1] + ', "x": 1}'),
                                         ["mine.jsonl:1", "'x'"]),
    "instances: undefined marker": lambda w: (b.inst(w, line("[ref#1] and [ref#2]")),
                                              ["mine.jsonl:1", "ref#2"]),
    "instances: unused reference": lambda w: (b.inst(w, line("a dog on a beach")),
                                              ["mine.jsonl:1", "ref#1"]),
    "instances: escaping path": lambda w: (b.inst(w, line(images=["../../etc/passwd"])),
                                           ["mine.jsonl:1", "escapes the data root"]),
    "instances: absolute path": lambda w: (b.inst(w, line(images=["/etc/passwd"])),
                                           ["mine.jsonl:1", "must be relative"]),
    "instances: missing image": lambda w: (b.inst(w, line(images=["dreambench/dog/9.jpg"])),
                                           ["mine.jsonl:1", "dreambench/dog/9.jpg", "not found"]),
    "instances: truncated image": lambda w: (b.inst(w, line(images=["dreambench/dog/00.png"]), root=w.root_with("00.png", b.jpeg_bytes()[:200])),
                                             ["mine.jsonl:1", "00.png", "does not decode"]),
    "instances: decompression bomb": lambda w: (b.inst(w, line(images=["dreambench/dog/00.png"]), root=w.root_with("00.png", b.png_header(30000, 30000))),
                                                ["mine.jsonl:1", "00.png", "pixel limit"]),
    "instances: not an image": lambda w: (b.inst(w, line(images=["dreambench/dog/00.png"]), root=w.root_with("00.png", b"just text")), ["mine.jsonl:1", "does not decode"]),
    "instances: unsafe id": lambda w: (b.inst(w, line()[:-1] + ', "id": "../x"}'),
                                       ["mine.jsonl:1", "'id'"]),
    "instances: duplicate id": lambda w: (b.inst(w, line()[:-1] + ', "id": "a"}',
                                                                                  line()[:-1] + ', "id": "a"}'),
                                          ["mine.jsonl:2", "duplicate instance id"]),
    "instances: empty file": lambda w: (b.inst(w, ), ["mine.jsonl", "no instances"]),
    "instances: unknown control": lambda w: (b.inst(w, line(kind="control", control="blur")),
                                             ["mine.jsonl:1", "control"]),
    # model settings (-a, --model-config, --model)
    "model: size=3": lambda w: (gen(w, *T, "-a", "size=3"), ["'size'", "multiple of 8"]),
    "model: path missing": lambda w: (gen(w, *T, "-a", f"path={w.tmp / 'none'}"), ["'path'", "none"]),
    "model: steps=abc": lambda w: (gen(w, *T, "-a", "steps=abc"), ["'steps'", "whole number"]),
    "model: strength=2": lambda w: (gen(w, *T, "-a", "strength=2"), ["'strength'"]),
    "model: unknown setting": lambda w: (gen(w, *T, "-a", "stepz=2"), ["'stepz'"]),
    "model: arg without =": lambda w: (gen(w, *T, "-a", "steps"), ["--model-arg 'steps'", "KEY=VALUE"]),
    "model: config not found": lambda w: (gen(w, *T, "--model-config", "sd15-composit"), ["sd15-composit", "sd15-composite"]),
    "model: config invalid YAML": lambda w: (gen(w, *T, "--model-config", w.file("m.yaml", "steps: [2\n")), ["m.yaml"]),
    "model: config a list": lambda w: (gen(w, *T, "--model-config", w.file("m.yaml", "- 1\n")), ["m.yaml", "mapping"]),
    "model: config invalid UTF-8": lambda w: (gen(w, *T, "--model-config", w.file("m.yaml", BAD_UTF8)), ["m.yaml", "UTF-8"]),
    "model: unknown model": lambda w: (gen(w, *T, "-m", "dalle9"), ["unknown model 'dalle9'"]),
    "folder: dir missing": lambda w: (gen(w, *T, "-m", "folder", "-a", f"dir={w.tmp / 'none'}"), ["'folder'", "none"]),
    "folder: every image missing": lambda w: (gen(w, *T, "-m", "folder", "-a", f"dir={w.file('out/x', '').parent}"),
                                              ["all 1 samples failed", "no image"], "runs"),
    "folder: every image truncated": lambda w: (gen(w, "-t", "txt2img", "-m", "folder", "-a",
                                                    f"dir={folder_of(w, b.jpeg_bytes()[:300])}"),
                                                ["all 1 samples failed", "does not decode"], "runs"),
    # options
    "option: --device bogus": lambda w: (["score", w.copy_run(), "--device", "bogus"], ["--device 'bogus'"]),
    "option: --device cuda": lambda w: (["score", w.copy_run(), "--device", "cuda:3"], ["--device cuda:3"]),
    "option: unknown metric": lambda w: (["score", w.copy_run(), "--metrics", "clip_tt"], ["clip_tt"]),
    "option: missing data dir": lambda w: (gen(w, *T, "-d", w.tmp / "nodata"), ["nodata", "ibench data fetch"]),
    "option: bad tolerance": lambda w: (["check", w.run, "--baseline", w.world / "baseline.json", "--tolerance", "lots"], ["--tolerance 'lots'"]),
    # run directories
    "run: manifest a list": lambda w: b.run_file(w, "manifest.json", "[1, 2]"),
    "run: manifest lacks a key": lambda w: (b.manifest_edit(w, drop("identity"))[0], ["manifest.json", "identity"]),
    "run: manifest wrong type": lambda w: (b.manifest_edit(w, setitem("identity.seed", "x"), "report")[0],
                                           ["manifest.json", "identity.seed"]),
    "run: manifest invalid JSON": lambda w: b.run_file(w, "manifest.json", "{"),
    "run: manifest invalid UTF-8": lambda w: b.run_file(w, "manifest.json", BAD_UTF8),
    "run: generation with extra key": lambda w: b.generation_lines(w, lambda rows: [{**rows[0], "x": 1}, *rows[1:]]),
    "run: generation a list": lambda w: b.generation_lines(w, lambda rows: ["[1]", *map(json.dumps, rows[1:])]),
    "run: generation wrong type": lambda w: b.generation_lines(w, lambda rows: [{**rows[0], "sample": "zero"}, *rows[1:]],
                                                              "generate"),
    "run: generation image escapes": lambda w: b.generation_lines(w, lambda rows: [{**rows[0], "image": "../../x.png"},
                                                                                   *rows[1:]]),
    "run: instances wrong schema": lambda w: (b.run_file(w, "instances.jsonl", '{"id": 3}\n')[0],
                                              ["instances.jsonl", "record 1"]),
    "run: deleted image": lambda w: deleted_image(w),
    "run: truncated image": lambda w: truncated_image(w),
    "run: score value not a number": lambda w: b.score_rows(w, setitem("value", "high")),
    "run: score row lacks a column": lambda w: b.score_rows(w, drop("condition")),
    "run: score sample a float": lambda w: b.score_rows(w, setitem("sample", 0.5)),
    "run: results wrong schema": lambda w: (b.run_file(w, "results.json", '{"schema": "x/9"}', "report")[0],
                                            ["results.json", "schema"]),
    "run: results a list": lambda w: (b.run_file(w, "results.json", "[]", "baseline")[0], ["results.json"]),
    "run: results set metric malformed": lambda w: results_edit(w, lambda d: d["set_metrics"].update(fid="bad")),
    # baselines (ibench check)
    "baseline: not JSON": lambda w: (["check", w.run, "--baseline", w.file("b.json", "{")], ["b.json", "invalid JSON"]),
    "baseline: wrong schema": lambda w: (["check", w.run, "--baseline", w.baseline(setitem("schema", "x"))], ["baseline.json", "schema"]),
    "baseline: metrics a list": lambda w: (["check", w.run, "--baseline", w.baseline(setitem("metrics", [1]))],
                                           ["baseline.json", "key 'metrics'"]),
    "baseline: per_instance a list": lambda w: (["check", w.run, "--baseline", w.baseline(lambda d: first_metric(d).update(
        per_instance=[0.1]))], ["baseline.json", "per_instance"]),
    "baseline: mean NaN": lambda w: (["check", w.run, "--baseline", w.file("b.json", nan_baseline(w))], ["b.json", ".mean': Input should be a finite number"]),
    "baseline: per-instance value a string": lambda w: (["check", w.run, "--baseline", w.baseline(lambda d: first_metric(d).update(
        per_instance={"x": "high"}))], ["baseline.json", "per_instance.x"]),
    "baseline: direction a string": lambda w: (["check", w.run, "--baseline", w.baseline(lambda d: first_metric(d).update(
        higher_is_better="yes"))], ["baseline.json", "higher_is_better"]),
    "baseline: no run.task": lambda w: (["check", w.run, "--baseline", w.baseline(lambda d: d["run"].pop("task"))],
                                        ["baseline.json", "run.task"]),
    "baseline: set metric value a string": lambda w: (["check", w.run, "--baseline", w.baseline(
        lambda d: d["set_metrics"].update(fid={"value": "x"}))], ["baseline.json", "set_metrics.fid"]),
    "baseline: missing file": lambda w: (["check", w.run, "--baseline", w.tmp / "none.json"], ["none.json"]),
    # ImagenHub rating TSVs
    "tsv: cell ..": lambda w: imagenhub(w, b.tsv_row("a.jpg", "[..]", "[1,1]"), "'[..]'"),
    "tsv: cell [1,2]": lambda w: imagenhub(w, b.tsv_row("a.jpg", "[1,2]", "[1,1]"), "outside 0, 0.5, 1"),
    "tsv: cell [1.,.]": lambda w: imagenhub(w, b.tsv_row("a.jpg", "[1.,.]", "[1,1]"), "[SC, PQ]"),
    "tsv: row with extra field": lambda w: imagenhub(w, b.tsv_row("a.jpg", "[1,1]", "[1,1]", "[1,1]"), "line 2: 4 fields"),
    "tsv: row with a missing field": lambda w: imagenhub(w, b.tsv_row("a.jpg", "[1,1]"), "line 2: 2 fields"),
    "tsv: invalid UTF-8": lambda w: imagenhub(w, BAD_UTF8, "not UTF-8"),
    "tsv: NUL byte": lambda w: imagenhub(w, b.tsv_row("a.jpg", "[1,1]", "[1,\x001]"), "NUL"),
    "tsv: no uid column": lambda w: imagenhub(w, "id\tSD\nx\t[1,1]\n", "'uid'"),
    "tsv: duplicate uid": lambda w: imagenhub(w, "uid\tSD\na\t[1,1]\na\t[1,1]\n", "appears twice"),
    "tsv: bad file name": lambda w: (["human", "stats", "--imagenhub", w.tsv("uid\tSD\na\t[1,1]\n", "ratings.tsv")],
                                     ["ratings.tsv", "<Task>_rater1.tsv"]),
    "tsv: import cell ..": lambda w: (["human", "import-imagenhub", w.tsv(b.tsv_row("a.jpg", "[..]", "[1,1]")), "--db",
                                       w.tmp / "new.db"], ["Text-To-Image_rater1.tsv", "'[..]'"]),
    # rating databases
    "db: corrupt file": lambda w: (["human", "stats", "--db", w.file("r.sqlite", b"\x00garbage" * 512)], ["r.sqlite"]),
    "db: foreign SQLite": lambda w: (["human", "stats", "--db", b.sqlite_db(w, "CREATE TABLE songs (title TEXT);")],
                                     ["ratings.sqlite", "not an ibench rating database"]),
    "db: ibench table missing a column": lambda w: (["human", "export", "-o", w.tmp / "out", "--db", b.sqlite_db(
        w, "CREATE TABLE studies (id INTEGER PRIMARY KEY, name TEXT);")], ["ratings.sqlite", "'studies'"]),
    "db: foreign SQLite for create-study": lambda w: (["human", "create-study", w.run, "--raters", "1", "--raters-per-item", "1",
                                                       "--db", b.sqlite_db(w, "CREATE TABLE songs (t TEXT);")],
                                                      ["not an ibench rating database"]),
    "db: missing file": lambda w: (["human", "stats", "--db", w.tmp / "typo.sqlite"], ["typo.sqlite", "no such rating database"]),
    "db: unknown study (export)": lambda w: (["human", "export", "--db", w.world / "h.db", "-s", "nope", "-o", w.tmp / "o"],
                                             ["no study 'nope'", "pilot"]),
    "db: unknown study (stats)": lambda w: (["human", "stats", "--db", w.world / "h.db", "-s", "nope"], ["no study 'nope'"]),
    "db: not a URL": lambda w: (["human", "stats", "--db", "postgresql://:::"], ["--db"]),
    # data fetch manifests
    "fetch: local_path .": lambda w: fetch_manifest(w, ".", "https://raw.githubusercontent.com/a/b/x.jpg"),
    "fetch: local_path ..": lambda w: fetch_manifest(w, "../x.jpg", "https://raw.githubusercontent.com/a/b/x.jpg"),
    "fetch: file:// original": lambda w: fetch_manifest(w, "x.jpg", "file:///etc/passwd"),
    "fetch: .. in the original path": lambda w: fetch_manifest(w, "x.jpg", "https://raw.githubusercontent.com/a/../../x"),
    "fetch: ragged manifest row": lambda w: (["data", "fetch", "-d", w.tmp / "root", "--manifest", w.file(
        "m.tsv", "local_path\toriginal_url\tsha256_of_original\tbytes_of_original\nx.jpg\n")], ["m.tsv", "line 2"]),
}


def folder_of(w: Workbench, data: bytes) -> Path:
    """A `folder` model's dir holding one (bad) image for the first txt2img instance."""
    from ibench.core.registry import get_task
    from ibench.data import build_instances
    from ibench.core.paths import DataRoot

    (inst,) = build_instances(get_task("txt2img"), DataRoot(w.synthetic), count=1)
    return w.file(f"out/{inst.id}/0.jpg", data).parent.parent


def deleted_image(w: Workbench):
    run = w.copy_run()
    victim = sorted((run / "images").rglob("*.png"))[0]
    victim.unlink()
    return ["score", run, "--extractor-config", "tiny"], [victim.name, "missing or changed"]


def truncated_image(w: Workbench):
    run = w.copy_run()
    victim = sorted((run / "images").rglob("*.png"))[0]
    victim.write_bytes(victim.read_bytes()[:100])
    return ["score", run, "--extractor-config", "tiny"], [victim.name, "missing or changed"]


def results_edit(w: Workbench, edit):
    run = w.copy_run()
    data = json.loads((run / "results.json").read_text())
    edit(data)
    (run / "results.json").write_text(json.dumps(data))
    return ["report", run, "-o", w.tmp / "report"], ["results.json", "set_metrics.fid"]


def nan_baseline(w: Workbench) -> str:
    data = json.loads((w.world / "baseline.json").read_text())
    first_metric(data)["mean"] = float("nan")
    return json.dumps(data)  # Python writes NaN, which strict JSON readers refuse and json.loads accepts


def imagenhub(w: Workbench, text, message: str):
    return ["human", "stats", "--imagenhub", w.tsv(text)], ["Text-To-Image_rater1.tsv", message]


def fetch_manifest(w: Workbench, path: str, url: str):
    m = w.file("m.tsv", f"local_path\toriginal_url\tsha256_of_original\tbytes_of_original\n{path}\t{url}\t{'a' * 64}\t9\n")
    return ["data", "fetch", "-d", w.tmp / "root", "--manifest", m, "--retries", "0"], ["m.tsv", "line 2"]


def tree(*folders: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for f in folders if f.exists() for p in sorted(f.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> tuple[Path, Path]:
    """A scored tiny run, its baseline and a rating study on it (made once; cases copy what they break)."""
    from ibench.cli import main
    from ibench.data.synthetic import ensure_synthetic

    world = tmp_path_factory.mktemp("world")
    with isolated(tmp_path_factory):
        run = lambda: next((world / "runs").iterdir())  # noqa: E731 - made by the first command
        for args in (lambda: ["run", *T, "-m", "tiny", "-d", "synthetic", "-n", "2", "-k", "1", "-o", world / "runs",
                              "--extractor-config", "tiny"],
                     lambda: ["baseline", run(), "-o", world / "baseline.json"],
                     lambda: ["human", "create-study", run(), "--raters", "2", "--raters-per-item", "1", "--db", world / "h.db",
                              "--name", "pilot", "--tokens-out", world / "tokens.txt"]):
            try:
                main([str(a) for a in args()])
            except SystemExit as exc:
                assert exc.code in (0, None), args()
        synthetic = ensure_synthetic()
    return world, synthetic


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_one_line_exit_2_and_loses_nothing(name, world, cli, tmp_path, shared_data):
    w = Workbench(world[0], tmp_path, world[1], shared_data)
    args, expected, *records = CASES[name](w)  # records: a folder where the failures may be recorded
    args = [str(a) for a in args]
    before = tree(tmp_path, world[0])
    code, _, err = cli(*args)
    lines = [x for x in err.splitlines() if x.strip()]
    errors = [x for x in lines if x.startswith("error:")]
    assert code == 2, f"{name}: exit {code}\n{err}"
    assert "Traceback" not in err and len(errors) == 1 and lines[-1] == errors[0], f"{name}: not one line:\n{err}"
    assert all(e in errors[0] for e in expected), f"{name}: {errors[0]!r} lacks {expected}"
    after = tree(tmp_path, world[0])
    changed = sorted(k for k in before if after.get(k) != before[k] and not k.endswith("-shm"))  # SQLite's shared memory
    allowed = (".lock", *(str(tmp_path / r) for r in records))
    new = sorted(k for k in after if k not in before and not k.endswith(allowed[:1]) and not k.startswith(allowed[1:]))
    assert not changed and not new, f"{name}: changed {changed}, new {new}"


def test_the_catalogue_is_large():
    assert len(CASES) >= 60


def test_a_16_bit_png_keeps_its_brightness(cli, tmp_path):
    """`folder` imports a 16-bit grey PNG at 50 % as 50 % grey (PIL's convert would make it white)."""
    from ibench.core.images import open_image

    path = tmp_path / "grey16.png"
    Image.fromarray(np.full((16, 16), 32768, np.uint16)).save(path)
    assert Image.open(path).mode.startswith("I")
    assert np.asarray(open_image(path)).mean() == pytest.approx(127.5, abs=1)
