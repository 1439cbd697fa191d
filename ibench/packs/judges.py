"""Which judge scores a pack run: the benchmark's own API judge (``anchor``) or any ibench judge config.

``--judge-config anchor`` is the benchmark's official judge as its code calls it: the OpenAI chat API
(``OPENAI_BASE_URL`` where set, as the OpenAI SDK reads it; the key from ``OPENAI_API_KEY``), the anchor's
model pinned to its dated snapshot where the anchor sends an undated alias, its temperature (none sent
where the anchor sends none) and token limit. Any other config (``qwen2.5-vl-7b``, ``vllm``, ``tiny``, a
file) keeps its backend, model and images but asks as the anchor asks: generated replies (the anchor's
reply format, never ibench's logprob reading), DreamBench++'s temperature 1; an API server gets the anchor's
token limit, an in-process model its config's ``max_new_tokens`` (at least 1024 for a logprob-mode config,
which never needed a reply length: the anchors' rubrics ask for an analysis before the score). A greedy judge
is not re-asked: it would answer the same.

A judge is *comparable* with a published row when its model is the one that row's judge names and its
prompts are the anchor's pinned files (they always are here); ``comparable_with`` lists those rows' judges.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

from ibench.core import deprecations
from ibench.errors import IbenchError

from .spec import Pack

ANCHOR = "anchor"
OPENAI_URL = "https://api.openai.com/v1"
#: The dated snapshot an undated alias the anchors send resolves to (OpenAI's alias list: "gpt-4.1" ->
#: "gpt-4.1-2025-04-14", the only GPT-4.1 snapshot; https://community.openai.com/t/1357643).
SNAPSHOTS = {"gpt-4.1": "gpt-4.1-2025-04-14"}
#: DreamBench++ sends no max_tokens: the model's own output limit (4096 for gpt-4o-2024-05-13,
#: https://platform.openai.com/docs/models/gpt-4o) is what that leaves.
DEFAULT_MAX_TOKENS = 4096
IN_PROCESS_MAX_TOKENS = 1024
#: The published rows' judge labels (``published/<pack>.csv``, column ``judge``) -> the model ids that are that judge
#: (a label not here, e.g. VIEScore's Gemini of unrecorded version, is no model ibench can call: never comparable).
PUBLISHED_JUDGES: dict[str, tuple[str, ...]] = {
    "gpt-4o-2024-05-13 x3": ("gpt-4o-2024-05-13",),
    "gpt-4o-2024-05-13": ("gpt-4o-2024-05-13",),
    "gpt-4.1": ("gpt-4.1", "gpt-4.1-2025-04-14"),
    # GEdit-Bench's open judge is the 4-bit AWQ checkpoint (Step1X-Edit@570eba6 GEdit-Bench/EVAL.md:35,
    # viescore/mllm_tools/qwen25vl_eval.py:45-50), not the bf16 model: only that checkpoint gives its numbers.
    "Qwen2.5-VL-72B-AWQ": ("Qwen/Qwen2.5-VL-72B-Instruct-AWQ", "Qwen2.5-VL-72B-Instruct-AWQ"),
}


def anchor_config(pack: Pack) -> dict:
    """The benchmark's own judge as an ibench judge config (openai backend)."""
    j = pack.judge
    return {"backend": "openai", "model": SNAPSHOTS.get(j.model, j.model),
            "base_url": os.environ.get("OPENAI_BASE_URL") or OPENAI_URL, "api_key_env": "OPENAI_API_KEY",
            "temperature": j.temperature, "max_new_tokens": j.max_tokens or DEFAULT_MAX_TOKENS,
            "image_max_side": 2048,  # never smaller than what the anchor sends (the API fits 2048x2048 itself)
            "max_retries": 2, "concurrency": 8, "timeout_s": 180}


def judge_config(pack: Pack, source: Union[str, Path, None]):
    """``(JudgeConfig, official)`` for scoring ``pack`` with ``source`` (``anchor``, a preset, a file, None:
    ibench's default judge). A judge the provider shut down is refused in one line naming what to use."""
    from ibench.evaluators.judge.config import load_judge_config

    if str(source) == ANCHOR:
        shut = deprecations.status(pack.judge.model)
        model = SNAPSHOTS.get(pack.judge.model, pack.judge.model)
        if shut[0] == "retired" or deprecations.status(model)[0] == "retired":
            row = shut[1] or deprecations.lookup(model)
            raise IbenchError(f"{pack.title}'s own judge {pack.judge.model} was shut down by {row.provider} on "
                              f"{row.date} ({row.source}): its published rows can no longer be re-judged with the "
                              f"same model; score with another judge (--judge-config gpt-6-luna, qwen2.5-vl-7b, vllm): "
                              f"its numbers are shown beside the published ones, marked not comparable")
        return load_judge_config(anchor_config(pack)), True
    base = load_judge_config(source)
    temperature = pack.judge.temperature if pack.judge.repeats > 1 else base.temperature  # repeats need sampling
    api = base.backend != "transformers"
    samples = bool(temperature) or (api and temperature is None)
    if api:  # a server: the anchor's limit (only what is generated is paid for)
        tokens = max(base.max_new_tokens, pack.judge.max_tokens or DEFAULT_MAX_TOKENS)
    elif base.mode == "logprob":  # a config that never set a reply length (the presets): room for the analysis
        tokens = max(base.max_new_tokens, IN_PROCESS_MAX_TOKENS)
    else:  # a generate-mode config: its own max_new_tokens
        tokens = base.max_new_tokens
    update = {"mode": "generate", "temperature": temperature, "max_new_tokens": tokens,
              "max_retries": base.max_retries if samples else 0}  # greedy: asking again gives the same reply
    return base.model_copy(update=update), False


def comparable_with(pack: Pack, model: str, served: Optional[list[str]] = None) -> list[str]:
    """The published rows' judges this judge model is (its served model names count too)."""
    names = {model, Path(model).name, *(served or [])}
    labels = sorted({r["judge"] for r in pack.published()})
    return [label for label in labels if names & set(PUBLISHED_JUDGES.get(label, (label,)))]
