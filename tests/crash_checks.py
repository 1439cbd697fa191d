"""What a run dir, a report folder and the cache must look like after any crash and one clean rerun."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: ``python -c HOLD LOCKFILE``: hold a flock on LOCKFILE (another ibench process, as the kernel sees it).
HOLD = ("import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
        "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(600)")


def ibench(args: list, env: dict, fault: tuple | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run the CLI in a fresh process (with a fault from tests/faults.py)."""
    head = [sys.executable, str(ROOT / "tests" / "faults.py"), *map(str, fault), "--"] if fault else \
        [sys.executable, "-m", "ibench"]
    return subprocess.run([*head, *map(str, args)], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def environment(cache: Path) -> dict:
    return {**os.environ, "IBENCH_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def strays(folder: Path) -> list[str]:
    """Temp files and half-built entries left behind (ours are `.<name>.<pid>.tmp` / `.<name>.<pid>.build`)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*")
                  if p.name.endswith((".tmp", ".build", ".old")) or ".part" in p.name)


def torn_jsonl(path: Path) -> bool:
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        return True
    try:
        [json.loads(line) for line in data.decode().splitlines() if line.strip()]
    except ValueError:
        return True
    return False


def check_run(run: Path, instances: int, samples: int, scored: bool) -> None:
    """Every sample generated once with an intact image; no torn record, no stray file; scores whole."""
    from ibench.core.rundir import RunStore

    store = RunStore(run)
    gens = store.generations()
    assert len(gens) == instances * samples and all(g.ok and store.intact(g) for g in gens), gens
    for path in run.rglob("*.jsonl"):
        assert not torn_jsonl(path), f"torn {path}"
    assert strays(run) == [], strays(run)
    pngs = sorted(p.relative_to(run).as_posix() for p in (run / "images").rglob("*.png"))
    assert pngs == sorted(g.image for g in gens)
    if scored:
        results = json.loads((run / "results.json").read_text())
        assert results["counts"]["scored"] == instances * samples
        assert all(json.loads((run / "scores" / f"{m}.json").read_text()) for m in results["set_metrics"])


def check_report(out: Path) -> None:
    html = (out / "index.html").read_text(encoding="utf-8")
    assert html.rstrip().endswith("</html>"), html[-200:]
    json.loads((out / "results.json").read_text())
    assert (out / "report.md").read_text().startswith("# ibench report")
    assert all(p.stat().st_size > 0 for p in (out / "tables").iterdir())
    assert strays(out) == [], strays(out)


def sha_tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}
