"""Shared fixtures: the real images in ../shared/data (checked untouched at the end), an isolated
cache dir, a CLI runner."""

from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

# The hub probe (ibench.weights.hub_unavailable) waits IBENCH_HUB_TIMEOUT seconds for an answer: 3 by default, which a
# loopback fake hub on a loaded test machine can miss. Tests never wait on it (a closed port refuses at once), so a
# generous limit costs nothing and no test depends on a wall-clock limit being met. Children inherit it.
os.environ.setdefault("IBENCH_HUB_TIMEOUT", "120")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LISTING = "FILES.sha256"  # `sha256sum` lines of every file of the shared data root


def tree_changes(root: Path) -> list[str]:
    """How ``root`` differs from its FILES.sha256: changed, missing and extra files, extra folders."""
    listed = {}
    for line in (root / LISTING).read_text().splitlines():
        digest, _, rel = line.partition("  ")
        listed[rel.removeprefix("./")] = digest
    changes = []
    for rel, digest in sorted(listed.items()):
        path = root / rel
        if not path.is_file():
            changes.append(f"missing {rel}")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            changes.append(f"changed {rel}")
    folders = {str(Path(rel).parent) for rel in listed} | {"."}
    folders |= {str(p) for rel in listed for p in Path(rel).parents}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_dir() and not path.is_symlink():
            if rel not in folders:
                changes.append(f"extra folder {rel}")
        elif rel not in listed and rel != LISTING:
            changes.append(f"extra file {rel}")
    return changes


def writable_copy(src: Path, dst: Path) -> Path:
    """A copy of (part of) the read-only shared data that this user may change, as root or not."""
    import shutil

    shutil.copytree(src, dst, copy_function=shutil.copyfile)
    for folder in [dst, *(p for p in dst.rglob("*") if p.is_dir())]:
        folder.chmod(0o755)
    return dst


@pytest.fixture(scope="session", autouse=True)
def _shared_data_untouched():
    """No test may write under ../shared/data (it is read-only for everyone but `data fetch/prepare`)."""
    yield
    if (SHARED_DATA / LISTING).is_file():
        changes = tree_changes(SHARED_DATA)
        assert not changes, f"tests wrote under {SHARED_DATA}: {changes[:10]}"


def need_system(name: str, present: bool, install: str) -> None:
    """Fail a test whose system binary is missing, or skip it, saying why, when scripts/test.sh could not
    install it here (not root, no sudo: it sets IBENCH_SKIP_SYSTEM_TESTS)."""
    if present:
        return
    why = os.environ.get("IBENCH_SKIP_SYSTEM_TESTS", "")
    if name in why.split(":", 1)[0].split():
        pytest.skip(f"{name} is not installed and cannot be installed here ({why.split(':', 1)[-1].strip()})")
    pytest.fail(f"{name} is needed: {install} (scripts/test.sh does it, or skips these tests where it cannot)")


def isolate(mp: pytest.MonkeyPatch, tmp_path_factory) -> None:
    """The session's cache dir (control maps, tiny model, features), no hub access, no data dir from outside."""
    mp.setenv("IBENCH_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "ibench-cache"))
    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.delenv("IBENCH_DATA_DIR", raising=False)


@contextmanager
def isolated(tmp_path_factory) -> Iterator[pytest.MonkeyPatch]:
    """``isolate`` for module-scoped fixtures (the autouse one below covers each test)."""
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, tmp_path_factory)
        yield mp


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    isolate(monkeypatch, tmp_path_factory)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "dreambench").is_dir():
        pytest.fail(f"real test images are expected at {SHARED_DATA} (../shared/data beside the repo)")
    return SHARED_DATA


@pytest.fixture
def data_root(shared_data, tmp_path):
    """The shared (read-only) data root with a per-test derived dir for control maps."""
    from ibench.core.paths import DataRoot

    return DataRoot(shared_data, derived_dir=tmp_path / "derived")


@pytest.fixture
def cli_code():
    """Run ``ibench.cli.main`` in-process; returns the exit code (output goes to capsys)."""
    from ibench.cli import main

    def invoke(*args) -> int:
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return 0

    return invoke


@pytest.fixture
def cli(capsys, cli_code):
    """Run ``ibench.cli.main`` in-process: returns (exit code, stdout, stderr)."""

    def invoke(*args) -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli_code(*args)
        out, err = capsys.readouterr()
        return code, out, err

    return invoke
