"""Shared fixtures: the real images in ../shared/data, an isolated cache dir, a CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own cache dir (control maps, tiny model, features) and no hub access."""
    cache = tmp_path_factory.getbasetemp() / "ibench-cache"
    monkeypatch.setenv("IBENCH_CACHE_DIR", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("IBENCH_DATA_DIR", raising=False)


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
