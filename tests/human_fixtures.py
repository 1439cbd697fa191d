"""Reusable human-eval study fixtures (a plain module: import it from any test).

``make_runs`` makes two real tiny runs (the ``tiny`` model and the ``references`` oracle) on the
``style_subject`` task; ``make_study`` builds a study on them; ``rate_all`` fills it with
deterministic ratings. The reports tests can build a small study with these three calls.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Sequence

import pytest
from ibench.human_eval import ratings
from ibench.human_eval.assignment import StudyTokens, create_study
from ibench.human_eval.store import get_engine

TASK = "style_subject"
MODELS = ("tiny", "references")


def make_runs(shared_data: Path, tmp: Path, models: Sequence[str] = MODELS, limit: int = 3,
              samples: int = 1) -> list[Path]:
    """Real runs of ``models`` on ``style_subject`` (``limit`` instances) under ``tmp/runs``."""
    from ibench.models import get_model
    from ibench.core.paths import DataRoot
    from ibench.core.registry import get_task
    from ibench.run import GenerateOptions, generate

    with pytest.MonkeyPatch.context() as mp:  # keep the tiny model out of the user's cache
        mp.setenv("IBENCH_CACHE_DIR", str(tmp / "cache"))
        mp.setenv("HF_HUB_OFFLINE", "1")
        root = DataRoot(shared_data, derived_dir=tmp / "derived")
        out = []
        for name in models:
            store, _ = generate(get_task(TASK), get_model(name), root, GenerateOptions(out=tmp / "runs", limit=limit, samples=samples,
                                progress=False))
            out.append(store.path)
    return out


def make_study(db_path: Path, runs: Sequence[Path], raters: int | Sequence[str] = 4, k: int = 3,
               name: str = "test-study") -> StudyTokens:
    """A study on ``runs`` in a fresh SQLite file; returns its tokens."""
    return create_study(str(db_path), runs, raters, raters_per_item=k, name=name)


def one_rater(db_path: Path, runs: Sequence[Path], name: str, **study: object):  # noqa: ANN201
    """A study of ``runs`` with one rater who rates every item: (tokens, engine, rater identity, queue)."""
    tokens = create_study(str(db_path), runs, [name], raters_per_item=1, name=f"{name}-study", **study)
    engine = get_engine(str(db_path))
    me = ratings.sign_in(engine, tokens.raters[name])
    return tokens, engine, me, ratings.queue(engine, me.rater_id)


def rate_all(db_path: Path, tokens: StudyTokens, seed: int = 0) -> int:
    """Every rater rates every assigned item with seeded random levels; returns the number of ratings."""
    engine = get_engine(str(db_path))
    rng = random.Random(seed)
    n = 0
    for token in tokens.raters.values():
        ident = ratings.sign_in(engine, token)
        for slot in ratings.queue(engine, ident.rater_id):
            item = ratings.rater_item(engine, ident.rater_id, slot.assignment_id)
            values = [rng.choice((0.0, 0.5, 1.0)) for _ in item.checklist]
            ratings.rate(engine, ident.rater_id, slot.assignment_id, values, rng.choice((0.0, 0.5, 1.0)))
            n += 1
    return n


@pytest.fixture(scope="session")
def human_runs(shared_data, tmp_path_factory) -> list[Path]:
    """Two real tiny runs, made once per test session."""
    return make_runs(shared_data, tmp_path_factory.mktemp("human-runs"))


@pytest.fixture
def study(human_runs, tmp_path) -> tuple[Path, StudyTokens]:
    """A fresh study (4 raters, 3 per item) in its own SQLite file: (db path, tokens)."""
    db = tmp_path / "ratings.db"
    return db, make_study(db, human_runs)
