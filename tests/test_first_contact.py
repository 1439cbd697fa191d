"""A new user's first hour: fast listing, packaged model configs by name, the best device by default,
and `run --limit/--samples` scoring what it was asked for."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from crash_checks import ROOT

HEAVY = ("torch", "diffusers", "transformers", "open_clip", "timm", "scipy", "sqlalchemy")


def test_list_and_help_import_nothing_heavy():
    code = ("import sys\nfrom ibench.cli import main\n"
            "for args in (['list', 'models'], ['list', 'tasks'], ['list', 'configs'], ['--help']):\n"
            "    try:\n        main(args)\n    except SystemExit:\n        pass\n"
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().splitlines()[-1] == "[]", out.stdout[-500:] + out.stderr[-2000:]
    assert "sd-composite" in out.stdout and "sd15-composite" in out.stdout


def test_packaged_model_configs_by_name(cli, tmp_path, monkeypatch):
    from ibench.cli.options import find_model_config, packaged_configs

    known = packaged_configs()
    assert {"sd15-composite", "sdxl-composite", "omnigen", "text2img-sd15"} <= set(known)
    assert all(p.read_text() == (ROOT / "configs" / f"{n}.yaml").read_text() for n, p in known.items())
    monkeypatch.chdir(tmp_path)  # outside a clone: the README's configs/... path still means the packaged file
    assert find_model_config(Path("sd15-composite")) == known["sd15-composite"]
    assert find_model_config(Path("configs/sd15-composite.yaml")) == known["sd15-composite"]
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "sd15-composite.yaml").write_text("steps: 3\n")  # a user's own file wins
    assert find_model_config(Path("configs/sd15-composite.yaml")).resolve() == tmp_path / "configs" / "sd15-composite.yaml"
    code, out, _ = cli("list", "configs")
    assert code == 0 and "sd15-composite" in out and "Stable Diffusion 1.5" in out


def test_the_wheel_ships_the_configs():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    tool = project["tool"]["setuptools"]
    assert tool["package-dir"]["ibench.configs"] == "configs" and "ibench.configs" in tool["packages"]
    assert tool["package-data"]["ibench.configs"] == ["*.yaml"]
    readme = (ROOT / "README.md").read_text()
    assert "<this repository>" not in readme and "--model-config sd15-composite" in readme


def test_the_best_device_by_default(monkeypatch):
    import torch

    from ibench.devices import resolve_device
    from ibench.errors import IbenchError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert resolve_device("auto") == "cuda:1"  # this process's GPU under torchrun
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") in ("cpu", "mps") and resolve_device("cpu") == "cpu"
    with pytest.raises(IbenchError, match="CUDA is not available"):
        resolve_device("cuda")
    with pytest.raises(IbenchError, match="not a torch device"):
        resolve_device("gpu")


def test_score_and_prepare_default_to_auto(cli):
    for command in (["score"], ["run"], ["data", "prepare"]):
        code, out, _ = cli(*command, "--help")
        flag = "--score-device" if command == ["run"] else "--device"  # run: the flag moves only the scorer
        assert code == 0 and "auto" in out.split(flag, 1)[1][:200], command


def test_run_with_a_smaller_limit_scores_only_what_it_asked_for(cli, tmp_path):
    base = ["run", "-t", "style_subject", "-d", "synthetic", "-o", tmp_path, "--extractor-config", "tiny"]
    assert cli(*base, "-n", "3", "-k", "2")[0] == 0
    code, out, err = cli(*base, "-n", "2", "-k", "1")
    assert code == 0, err
    (run,) = tmp_path.iterdir()
    results = json.loads((run / "results.json").read_text())
    assert results["counts"] == {"instances": 2, "samples": 2, "failed": 0, "scored": 2}
    assert any("scored 2 of the run's 3 instances" in n for n in results["notes"])
    rows = [json.loads(x) for x in (run / "scores" / "clip_t.jsonl").read_text().splitlines()]
    assert len({r["instance_id"] for r in rows}) == 2 and {r["sample"] for r in rows} == {0}
    assert cli("score", run, "--extractor-config", "tiny")[0] == 0  # and all of it again on request
    assert json.loads((run / "results.json").read_text())["counts"]["scored"] == 6


def test_system_tests_are_skipped_only_where_their_binaries_cannot_be_installed(monkeypatch):
    from conftest import need_system

    need_system("chromium", True, "apt-get install chromium")  # present: the test runs
    monkeypatch.setenv("IBENCH_SKIP_SYSTEM_TESTS", "chromium postgresql: not root and no passwordless sudo")
    with pytest.raises(pytest.skip.Exception, match="chromium is not installed and cannot be installed here"):
        need_system("chromium", False, "apt-get install chromium")
    monkeypatch.setenv("IBENCH_SKIP_SYSTEM_TESTS", "postgresql: apt-get install failed")
    with pytest.raises(pytest.fail.Exception, match="apt-get install chromium"):  # installable: a missing one fails
        need_system("chromium", False, "apt-get install chromium")


def test_run_that_fails_in_scoring_keeps_the_images_and_says_how_to_score_later(cli, tmp_path):
    bad = tmp_path / "not-a-model"
    bad.mkdir()
    from ibench.evaluators.tiny import tiny_preset

    config = tmp_path / "extractors.yaml"  # the tiny extractors, but DINO from a folder that holds no model
    config.write_text(json.dumps({**tiny_preset(), "dino": {"model": str(bad)}}))
    code, _, err = cli("run", "-t", "subject_gen", "-d", "synthetic", "-n", "1", "-k", "1", "-o", tmp_path / "runs",
                       "--extractor-config", config)
    lines = [x for x in err.splitlines() if x.startswith("error:")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert "the dino extractor could not load its weights from" in lines[0] and "not-a-model" in lines[0]
    assert "the images are kept in" in lines[0] and "ibench score" in lines[0]
    (run,) = (tmp_path / "runs").iterdir()
    assert list((run / "images").rglob("*.png"))
