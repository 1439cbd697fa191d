"""Automatic evaluators: per-condition scores (CLIP-T, DINO, CLIP-I, style, control) and FID/KID.

Entry points: ``ibench.evaluators.score.score_run`` (``ibench score RUN``), the metric registry in
``ibench.evaluators.metrics``, and ``ibench.evaluators.results.load_scores`` / ``load_results``.
Nothing heavy is imported here: networks load only when a feature is missing from the cache.
"""
