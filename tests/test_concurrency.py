"""Two ibench processes at once: on one run dir exactly one set of records is made (the second waits
for nothing and is refused in one line, or finds the work done); first runs racing on an empty cache
all succeed (the tiny model, the tiny extractors and the synthetic set are built once, whole)."""

from __future__ import annotations

import subprocess
import sys

from crash_checks import HOLD, ROOT, check_run, environment, sha_tree, strays

N, K = 4, 2
RUN = ["run", "-t", "style_subject", "-m", "tiny", "-d", "synthetic", "-n", N, "-k", K, "--extractor-config", "tiny"]


def start(args: list, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ibench", *map(str, args)], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_racing_runs_make_one_set_of_records_and_first_runs_share_the_cache(tmp_path):
    env = environment(tmp_path / "empty-cache")
    same, other = tmp_path / "runs", tmp_path / "other"
    procs = [start([*RUN, "-o", same], env), start([*RUN, "-o", same], env), start([*RUN, "-o", other], env)]
    results = [(p.wait(timeout=900), *p.communicate()) for p in procs]
    assert results[2][0] == 0, results[2][2][-2000:]  # a first run on the empty cache, racing the others
    codes = sorted(code for code, _, _ in results[:2])
    assert codes[0] == 0, [r[2][-2000:] for r in results[:2]]
    if codes[1] == 2:  # refused while the other held the run: one line saying so
        err = next(e for c, _, e in results[:2] if c == 2)
        lines = [line for line in err.splitlines() if line.strip()]
        assert lines[-1].startswith("error: ") and "in use by another ibench process" in lines[-1]
    else:
        assert codes[1] == 0
    (run,) = same.iterdir()
    check_run(run, N, K, scored=True)
    lines = (run / "generations.jsonl").read_text().splitlines()
    assert len(lines) == N * K  # one record per sample: nothing made twice
    (run_other,) = other.iterdir()
    assert sha_tree(run / "images") == sha_tree(run_other / "images")  # one tiny model, built once
    cache = tmp_path / "empty-cache"
    assert strays(cache) == [] and len(list((cache / "models").glob("tiny-sd*"))) == 1


def test_a_run_held_by_another_process_is_refused_in_one_line(cli, tmp_path):
    out = tmp_path / "runs"
    args = ["generate", "-t", "txt2img", "-m", "tiny", "-d", "synthetic", "-n", 1, "-k", 1, "-o", out]
    assert cli(*args)[0] == 0
    (run,) = out.iterdir()
    before = sha_tree(run)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run / ".ibench.lock")], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        more = ["generate", "-t", "txt2img", "-m", "tiny", "-d", "synthetic", "-n", 1, "-k", 2, "-o", out]
        for command in (more, ["score", run, "--extractor-config", "tiny"]):
            code, _, err = cli(*command)
            lines = err.strip().splitlines()
            assert code == 2 and len(lines) == 1 and "in use by another ibench process" in lines[0], err
            assert f"(pid {holder.pid}: " in lines[0] and "wait for it to finish" in lines[0]
    finally:
        holder.kill()
        holder.wait()
    assert sha_tree(run) == before
