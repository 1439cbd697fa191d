"""The VLM judge (installed as ``ibench.evaluators.judge``): VIEScore-style SC/PQ/O, pointwise and pairwise.

Modules: ``config`` (the judge config and presets, ``configs/*.yaml``), ``prompts`` (versioned prompt
files ``prompts/<version>.yaml`` and the messages built from them), ``parse`` (reading replies),
``backend`` (the backend protocol and table), ``hf`` (transformers, in process), ``api`` (any
OpenAI-compatible endpoint), ``cache`` (the verdict cache), ``engine`` (``Judge``: cache, budget,
retries), ``kind`` (the ``judge`` metric kind), ``pairwise`` (which of two outputs is better).
See docs/judge.md.
"""
