"""Optional dependencies: with any extra missing, its commands say in one line which extra to install;
with only one extra installed, that extra's commands work (each extra holds what its commands need).
A missing package is simulated in a fresh process by ``sys.modules[name] = None`` (what a plain
``pip install ibench`` lacks); the EXTRAS table is checked against pyproject's extras."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib

import pytest

from crash_checks import ROOT
from ibench.extras import EXTRAS

#: Run CLI commands in one process with some optional modules blocked; print [(exit, stderr), ...].
RUNNER = """
import contextlib, io, json, sys
for m in {blocked!r}:
    sys.modules[m] = None
from ibench.cli import main
out = []
for args in {commands!r}:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            main(args)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
    out.append((code, err.getvalue()))
print(json.dumps(out))
"""


def run_blocked(blocked: list[str], commands: list[list], env: dict) -> list[tuple[int, str]]:
    script = RUNNER.format(blocked=blocked, commands=[[str(a) for a in c] for c in commands])
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [tuple(r) for r in json.loads(proc.stdout.strip().splitlines()[-1])]


def modules(*extras: str) -> list[str]:
    return [m for e in extras for m, _ in EXTRAS[e]]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, shared_data):
    """A scored tiny run, its baseline and an ImagenHub folder; the environment of the child processes."""
    from ibench.cli import main

    tmp = tmp_path_factory.mktemp("extras")
    env = {**os.environ, "IBENCH_CACHE_DIR": str(tmp_path_factory.getbasetemp() / "ibench-cache"),
           "HF_HUB_OFFLINE": "1"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IBENCH_CACHE_DIR", env["IBENCH_CACHE_DIR"])
        mp.setenv("HF_HUB_OFFLINE", "1")
        try:
            main(["run", "-t", "txt2img", "-d", "synthetic", "-n", "2", "-k", "1", "-o", str(tmp / "runs"),
                  "--extractor-config", "tiny"])
        except SystemExit as exc:
            assert not exc.code
    run = next((tmp / "runs").iterdir())
    return {"tmp": tmp, "run": run, "env": env, "tsv": shared_data / "imagenhub_ratings" / "Text-To-Image"}


def commands(i: dict) -> dict[str, list]:
    tmp, run = i["tmp"], i["run"]
    return {
        "eval": [["score", run, "--extractor-config", "tiny", "--workers", "0"]],
        "report": [["report", run, "-o", tmp / "report"]],
        "human": [["human", "stats", "--imagenhub", i["tsv"]],
                  ["human", "create-study", run, "--raters", "1", "--raters-per-item", "1", "--db", tmp / "h.db", "--name", "x"]],
        None: [["baseline", run, "-o", tmp / "b.json"], ["check", run, "--baseline", tmp / "b.json"], ["compare", run, run],
               ["list", "models"], ["validate"],
               ["run", "-t", "txt2img", "-d", "synthetic", "-n", "1", "-k", "1", "-o", tmp / "plain", "--no-score"]],
    }


@pytest.mark.parametrize("present", ["eval", "report", "human", None])
def test_each_extra_alone_runs_its_commands_and_names_the_others(inputs, present):
    every = commands(inputs)
    absent = [e for e in EXTRAS if e != present]
    todo = [(extra, c) for extra, cs in every.items() for c in cs]
    results = run_blocked(modules(*absent), [c for _, c in todo], inputs["env"])
    for (extra, command), (code, err) in zip(todo, results):
        if extra in (present, None):
            assert code == 0, (present, command, err[-2000:])
            continue
        lines = [x for x in err.splitlines() if x.strip()]
        assert code == 2 and len(lines) == 1, (present, command, err)
        assert f"needs the '{extra}' extra" in lines[0] and f"pip install 'ibench[{extra}]'" in lines[0], lines[0]


def test_run_without_the_eval_extra_refuses_before_generating(inputs):
    out = inputs["tmp"] / "never"
    (code, err), = run_blocked(modules("eval"), [["run", "-t", "txt2img", "-d", "synthetic", "-n", "1", "-o", out]],
                               inputs["env"])
    assert code == 2 and "'eval' extra" in err and "--no-score" in err and not out.exists()


def test_the_table_matches_pyproject():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for extra, mods in EXTRAS.items():
        declared = {d.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip().lower() for d in extras[extra]}
        assert {dist.lower() for _, dist in mods} == declared, extra
