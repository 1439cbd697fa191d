"""Automatic evaluators: per-condition scores (CLIP-T, DINO, CLIP-I, style, control), FID/KID, and the open
tables of metric kinds and extractors (``registry``).

Entry points: ``ibench.evaluators.score.score_run`` (``ibench score RUN``), ``register`` /
``register_kind`` / ``register_extractor`` (extensions, see docs/extending.md), and
``ibench.evaluators.results.load_scores`` / ``load_results``. Nothing heavy is imported here: networks
load only when a feature is missing from the cache.
"""

from .registry import register, register_extractor, register_kind

__all__ = ["register", "register_extractor", "register_kind"]
