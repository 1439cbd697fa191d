"""docs/extending.md, followed literally: its files are written into an empty folder and its commands run from
there with the installed ``ibench`` console script (no PYTHONPATH, no ``python -m``): run -> score -> report
with the toy plugin's model, extractor, metric kind, metrics, judge backend and report section; the numbers
are checked by an independent computation. Also: what the registries refuse."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ibench.core.metrics import METRICS, MetricDef
from ibench.errors import IbenchError
from ibench.evaluators import register

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"
BLOCK = re.compile(r"<!-- (file: (?P<file>\S+)|run) -->\n```\w+\n(?P<body>.*?)```", re.S)


def doc_blocks() -> tuple[dict[str, str], list[str]]:
    """The guide's files (blocks of one file joined in order) and its command lines."""
    files: dict[str, str] = {}
    commands: list[str] = []
    for m in BLOCK.finditer(DOC.read_text(encoding="utf-8")):
        if m["file"]:
            files[m["file"]] = files[m["file"]] + "\n\n" + m["body"] if m["file"] in files else m["body"]
        else:
            commands += [line for line in m["body"].splitlines() if line.strip()]
    return files, commands


def console_script() -> Path:
    """The ``ibench`` command installed beside the Python that runs the tests (its environment's bin folder)."""
    found = shutil.which("ibench", path=str(Path(sys.executable).parent))
    assert found, f"no `ibench` console script beside {sys.executable}: `pip install -e .` installs it"
    return Path(found)


def ibench(args: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(console_script()), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def guide(tmp_path_factory) -> tuple[Path, dict]:
    """The plugin folder after the guide's commands ran there, and their environment."""
    folder = tmp_path_factory.mktemp("toy-plugin")
    files, commands = doc_blocks()
    assert {"toy_plugin.py", "toy_judge.yaml", "tasks/toy_style.yaml"} <= set(files) and commands
    for name, body in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(body)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["HF_HUB_OFFLINE"] = "1"
    for line in commands:
        args = shlex.split(line)
        if args[0] == "export":
            env.update(dict(pair.split("=", 1) for pair in args[1:]))
            continue
        assert args[0] == "ibench", line
        proc = ibench(args[1:], folder, env)
        assert proc.returncode == 0, f"{line}\n{proc.stdout}\n{proc.stderr}"
    return folder, env


def pixels(path: Path, mode: str = "RGB") -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert(mode), dtype=np.float64)


def test_the_recipes_work_end_to_end(guide):
    folder, _ = guide
    (run,) = [p for p in (folder / "runs").iterdir() if (p / "manifest.json").is_file()]
    results = json.loads((run / "results.json").read_text())
    gens = [json.loads(line) for line in (run / "generations.jsonl").read_text().splitlines()]
    instances = {i["id"]: i for i in map(json.loads, (run / "instances.jsonl").read_text().splitlines())}
    manifest = json.loads((run / "manifest.json").read_text())
    assert len(gens) == 6 and manifest["identity"]["model"] == "toy" and manifest["identity"]["model_settings"] == {
        "size": 32}
    # independent: brightness = mean of L (PIL's grey conversion) / 255; colour = cosine of mean RGBs;
    # the toy judge's PQ = its 0-10 score (round(10 * brightness) + offset 1, clipped) / 10
    bright, colour, pq = {}, {}, {}
    for g in gens:
        b = pixels(run / g["image"], "L").mean() / 255
        bright.setdefault(g["instance_id"], []).append(b)
        pq.setdefault(g["instance_id"], []).append(min(10, max(0, round(10 * b) + 1)) / 10)
        style = instances[g["instance_id"]]["instruction"]["references"][0]["images"][0]
        a, s = pixels(run / g["image"]).reshape(-1, 3).mean(0), pixels(Path(manifest["data_root"]) / style).reshape(-1, 3).mean(0)
        colour.setdefault(g["instance_id"], []).append(a @ s / np.linalg.norm(a) / np.linalg.norm(s))
    mean = lambda per: float(np.mean([np.mean(v) for v in per.values()]))  # noqa: E731 - instance means, then mean
    metrics = results["metrics"]
    assert metrics["toy_brightness"]["mean"] == pytest.approx(mean(bright), abs=1e-9)
    assert metrics["toy_colour"]["mean"] == pytest.approx(mean(colour), abs=1e-5)
    assert metrics["judge_pq"]["mean"] == pytest.approx(mean(pq), abs=1e-9)
    assert metrics["judge_pq"]["verdicts"]["ok"] == 2 * len(gens) and metrics["judge_pq"]["verdicts"]["failed"] == 0
    identity = metrics["judge_pq"]["judge"]["identity"]
    assert (identity["backend"], identity["model"], identity["offset"]) == ("toy", "mean-grey-level", 1)
    report = json.loads((folder / "report" / "results.json").read_text())
    assert {"toy_brightness", "toy_colour", "clip_t", "judge_pq"} <= {r["metric"] for r in report["metrics"]}
    section = f"Brightest outputs: toy on toy_style, mean grey level {metrics['toy_brightness']['mean']:.3f}."
    markdown = (folder / "report" / "report.md").read_text()
    assert "## Brightness (toy)" in markdown and section in markdown
    assert markdown.index("## Brightness (toy)") < markdown.index("## Provenance")
    assert section in (folder / "report" / "index.html").read_text()


def test_the_plugin_is_found_from_its_folder_and_its_settings_are_checked(guide):
    folder, env = guide
    proc = ibench(["list", "tasks"], folder.parent, env)  # elsewhere: not importable, one line
    assert proc.returncode == 2 and proc.stderr.startswith("error: IBENCH_PLUGINS: cannot import 'toy_plugin'")
    (run,) = [p for p in (folder / "runs").iterdir() if (p / "manifest.json").is_file()]
    (folder / "typo_judge.yaml").write_text("backend: toy\nmodel: mean-grey-level\nofset: 1\n")
    proc = ibench(["score", str(run), "--metrics", "judge_pq", "--judge-config", "typo_judge.yaml"], folder, env)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == ("error: typo_judge.yaml: key 'ofset': unknown key (backend toy takes the common "
                                   "keys and: offset)")


def test_register_refuses_what_scoring_cannot_serve():
    with pytest.raises(IbenchError, match=r"unknown metric kind of metric 'bad_kind': 'nope'") as err:
        register(MetricDef(name="bad_kind", kind="nope", higher_is_better=True, description="x"))
    assert len(str(err.value).splitlines()) == 1
    with pytest.raises(IbenchError, match=r"unknown extractor of metric 'bad_ext': 'nope' \(known: clip, clip_text"):
        register(MetricDef(name="bad_ext", kind="similarity", extractor="nope", target="style", higher_is_better=True,
                           description="x"))
    with pytest.raises(IbenchError, match="kind 'set' is set-level"):
        register(MetricDef(name="bad_level", kind="set", extractor="inception", higher_is_better=False, description="x"))
    with pytest.raises(IbenchError, match="needs an extractor and a target"):
        register(MetricDef(name="bad_target", kind="similarity", extractor="clip", higher_is_better=True,
                           description="x"))
    assert not {"bad_kind", "bad_ext", "bad_level", "bad_target"} & set(METRICS)


def test_unknown_extractor_kind_and_plugin_are_one_line(cli, monkeypatch):
    from ibench.evaluators.registry import build_extractors, get_kind

    with pytest.raises(IbenchError, match="unknown extractor 'dinoo'; did you mean 'dino'"):
        build_extractors({"dinoo"}, None, "cpu")
    with pytest.raises(IbenchError, match="unknown metric kind 'simlarity'; did you mean 'similarity'"):
        get_kind("simlarity")
    monkeypatch.setenv("IBENCH_PLUGINS", "no_such_plugin_module")
    monkeypatch.setattr(sys, "path", list(sys.path))  # the plugin loader adds the current directory
    code, _, err = cli("list", "tasks")
    assert code == 2 and err.startswith("error: IBENCH_PLUGINS: cannot import 'no_such_plugin_module'")
