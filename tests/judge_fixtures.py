"""Judge test inputs (a plain module): real tiny runs on the synthetic data set and judge configs."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pytest

JUDGE_METRICS = ["judge_sc", "judge_pq", "judge_o"]


def make_synthetic_runs(tmp: Path, cache: Path, models: Sequence[str] = ("tiny", "references"),
                        task: str = "style_subject", limit: int = 2, samples: int = 2) -> list[Path]:
    """Real runs of ``models`` on the built-in synthetic data (``--data-dir synthetic``) under ``tmp/runs``.

    ``cache``: where the tiny model and the synthetic set are (pass the session's, ``session_cache``)."""
    from ibench.core.registry import get_task
    from ibench.data import resolve_data_root
    from ibench.models import get_model
    from ibench.run import GenerateOptions, generate

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IBENCH_CACHE_DIR", str(cache))
        mp.setenv("HF_HUB_OFFLINE", "1")
        root = resolve_data_root("synthetic")
        return [generate(get_task(task), get_model(m), root, GenerateOptions(out=tmp / "runs", limit=limit,
                                                                               samples=samples, progress=False))[0].path
                for m in models]


def session_cache(tmp_path_factory) -> Path:
    """The session's shared cache dir (tests/conftest.py's ``_isolated_cache``)."""
    return tmp_path_factory.getbasetemp() / "ibench-cache"


def api_config(url: str, **overrides) -> dict:
    """A judge config for the fake OpenAI-compatible server at ``url``."""
    return {"backend": "openai", "model": "fake-judge", "base_url": url, "concurrency": 4, "max_retries": 2,
            "timeout_s": 5, "image_max_side": 64, **overrides}


@pytest.fixture
def verdict_cache(tmp_path, monkeypatch) -> Path:
    """A cache dir of the test's own (the verdict cache must start empty)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("IBENCH_CACHE_DIR", str(cache))
    return cache
