"""Meta-evaluation: how well a judge (a VLM judge, a metric) agrees with people (``ibench judge meta``).

Modules: ``exact`` (exact arithmetic so that ties never depend on float summation order), ``records``
(the tidy tables every source is read into: pointwise scores, human ratings, pairwise votes),
``sources`` and ``anchors`` (readers: ibench run dirs and studies, ImagenHub TSVs, VIEScore's and
GenAI-Bench's released files, plain CSV/JSONL), ``stats`` (correlations, aggregation across models and
tasks, accuracies), ``evaluate`` (the whole table, the human ceiling, the bootstrap), ``output`` (CSV, JSON),
``pack`` (ibench's own judge on a pack's items). See docs/judge.md, "Which judge to trust".
"""
