"""docs/extending.md, followed literally: its files are written out and its commands run (run -> score ->
report) with the toy plugin's model, extractor, metric kind and metrics; the numbers are checked by an
independent computation. Also: what the registries refuse."""

from __future__ import annotations

import json
import os
import re
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
    files, commands = {}, []
    for m in BLOCK.finditer(DOC.read_text(encoding="utf-8")):
        if m["file"]:
            files[m["file"]] = m["body"]
        else:
            commands += [line for line in m["body"].splitlines() if line.strip()]
    return files, commands


def test_the_recipes_work_end_to_end(tmp_path):
    files, commands = doc_blocks()
    assert {"toy_plugin.py", "tasks/toy_style.yaml"} <= set(files) and commands
    for name, body in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    for line in commands:
        if line.startswith("export "):
            env.update(dict(pair.split("=", 1) for pair in line.split()[1:]))
            continue
        args = line.split()
        assert args[0] == "ibench", line
        proc = subprocess.run([sys.executable, "-m", "ibench", *args[1:]], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{line}\n{proc.stdout}\n{proc.stderr}"
    (run,) = [p for p in (tmp_path / "runs").iterdir() if (p / "manifest.json").is_file()]
    results = json.loads((run / "results.json").read_text())
    gens = [json.loads(line) for line in (run / "generations.jsonl").read_text().splitlines()]
    instances = {i["id"]: i for i in map(json.loads, (run / "instances.jsonl").read_text().splitlines())}
    manifest = json.loads((run / "manifest.json").read_text())
    assert len(gens) == 6 and manifest["identity"]["model"] == "toy" and manifest["identity"]["model_settings"] == {
        "size": 32}

    def pixels(path: Path) -> np.ndarray:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"), dtype=np.float64)

    # independent: brightness = mean of L (PIL's grey conversion) / 255; colour = cosine of mean RGBs
    bright, colour = {}, {}
    for g in gens:
        with Image.open(run / g["image"]) as im:
            bright.setdefault(g["instance_id"], []).append(np.asarray(im.convert("L"), dtype=np.float64).mean() / 255)
        style = instances[g["instance_id"]]["instruction"]["references"][0]["images"][0]
        a, b = pixels(run / g["image"]).reshape(-1, 3).mean(0), pixels(Path(manifest["data_root"]) / style).reshape(-1, 3).mean(0)
        colour.setdefault(g["instance_id"], []).append(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    mean = lambda per: float(np.mean([np.mean(v) for v in per.values()]))  # noqa: E731 - instance means, then mean
    assert results["metrics"]["toy_brightness"]["mean"] == pytest.approx(mean(bright), abs=1e-9)
    assert results["metrics"]["toy_colour"]["mean"] == pytest.approx(mean(colour), abs=1e-5)
    report = json.loads((tmp_path / "report" / "results.json").read_text())
    assert {"toy_brightness", "toy_colour", "clip_t"} <= {r["metric"] for r in report["metrics"]}
    assert "toy_brightness" in (tmp_path / "report" / "report.md").read_text()


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
    code, _, err = cli("list", "tasks")
    assert code == 2 and err.startswith("error: IBENCH_PLUGINS: cannot import 'no_such_plugin_module'")
