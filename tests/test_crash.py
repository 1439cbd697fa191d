"""Crashes: SIGKILL inside the image, record, score and report writes and at seeded random moments of
generate, score and report; the rerun of the same command ends complete, with no torn or stray file.
A torn cache entry is rebuilt; a full disk during scoring is one line and loses nothing."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time

import pytest

from crash_checks import ROOT, check_report, check_run, environment, ibench, sha_tree, strays

N, K = 3, 2  # instances, samples


@pytest.fixture
def work(tmp_path_factory):
    """A warm cache (tiny model, tiny extractors, synthetic data) shared by these tests, and fresh folders."""
    cache = tmp_path_factory.getbasetemp() / "crash-cache"
    tmp = tmp_path_factory.mktemp("crash")
    return environment(cache), tmp / "runs", tmp / "report"


def generate_args(runs):
    return ["generate", "-t", "style_subject", "-m", "tiny", "-d", "synthetic", "-n", N, "-k", K, "-o", runs]


def only_run(runs):
    (run,) = [p for p in runs.iterdir() if p.is_dir()]
    return run


def killed(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == -signal.SIGKILL, (result.returncode, result.stderr[-2000:])


def test_sigkill_inside_every_write_then_rerun_is_complete_and_clean(work):
    env, runs, report = work
    killed(ibench(generate_args(runs), env, ("replace", 3, "*.png")))  # inside the 3rd image write
    run = only_run(runs)
    assert any(p.name.endswith(".tmp") for p in (run / "images").rglob(".*")), "the kill was not inside a write"
    killed(ibench(generate_args(runs), env, ("append", 1, "generations.jsonl")))  # a torn record
    assert not (run / "generations.jsonl").read_bytes().endswith(b"\n")
    score = ["score", run, "--extractor-config", "tiny", "--workers", "0"]
    killed(ibench(score, env, ("replace", 1, "results.json")))  # the images are whole: scoring starts
    assert strays(run), "the kill inside the results write left its temp file"
    assert ibench(["run", *generate_args(runs)[1:], "--extractor-config", "tiny"], env).returncode == 0
    check_run(run, N, K, scored=True)

    make_report = ["report", run, "-o", report]
    killed(ibench(make_report, env, ("replace", 1, "index.html")))
    assert not (report / "index.html").exists() and strays(report)
    assert ibench(make_report, env).returncode == 0
    check_report(report)


def test_sigkill_at_seeded_random_moments_then_rerun_is_complete(work):
    env, runs, report = work
    rng = random.Random(20261201)
    stages = [["run", *generate_args(runs)[1:], "--extractor-config", "tiny"], ["report", runs, "-o", report]]
    for command in stages:  # a kill at a seeded moment of the command's life (start-up included), then a rerun
        proc = subprocess.Popen([sys.executable, "-m", "ibench", *map(str, command)], env=env, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(2.0, 9.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        result = ibench(command, env)
        assert result.returncode == 0, result.stderr[-2000:]
    check_run(only_run(runs), N, K, scored=True)
    check_report(report)


def test_torn_cache_entries_are_rebuilt(work):
    env, runs, _ = work
    args = ["run", "-t", "style_subject", "-m", "tiny", "-d", "synthetic", "-n", 1, "-k", 1, "--extractor-config", "tiny"]
    assert ibench([*args, "-o", runs], env).returncode == 0
    first = sha_tree(only_run(runs) / "images")
    cache = env["IBENCH_CACHE_DIR"]
    torn = [f"{cache}/models/tiny-sd/model_index.json", f"{cache}/extractors/tiny-v2/config.json",
            f"{cache}/extractors/tiny-v2/dino/config.json"]
    for path in torn:
        open(path, "w").close()  # a torn write: 0 bytes
    again = runs.parent / "again"
    result = ibench([*args, "-o", again], env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert all(open(p).read().strip() for p in torn)
    assert sha_tree(only_run(again) / "images") == first  # the rebuilt tiny model is the same model


def test_full_disk_while_scoring_is_one_line_and_loses_nothing(work):
    env, runs, _ = work
    assert ibench(generate_args(runs), env).returncode == 0
    run = only_run(runs)
    before = sha_tree(run)
    result = ibench(["score", run, "--extractor-config", "tiny", "--workers", "0"], env, ("fsize", 2048, "*"))
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and lines[-1].startswith("error: ") and "cannot write" in lines[-1], result.stderr
    assert "Traceback" not in result.stderr and sum(line.startswith("error:") for line in lines) == 1
    after = sha_tree(run)
    assert {k: v for k, v in after.items() if k in before} == before and strays(run) == []
    assert ibench(["score", run, "--extractor-config", "tiny", "--workers", "0"], env).returncode == 0
    check_run(run, N, K, scored=True)
