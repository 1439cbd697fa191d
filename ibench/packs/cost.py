"""What judging a pack with the anchor's API judge costs: calls x tokens x price.

Calls come from the pack (samples x questions x repeats; the anchor's own code may make more, see
``Judge.calls_per_sample``). Tokens are estimated: text as characters / 4 of the pinned prompt files'
sizes plus the instruction, images by OpenAI's rule for ``detail: high`` (fit in 2048x2048, shortest side
to 768, 170 tokens per 512-px tile plus 85; https://platform.openai.com/docs/guides/images-vision,
"calculating costs"), the reply by an assumed length. Prices are USD per million tokens, with sources.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: USD per 1M input / output tokens, standard tier.
PRICES = {
    # gpt-4.1: $2.00 / $8.00 (OpenAI pricing page as read 2026-11-05 by api-evangelist/posts
    # _posts/2026-11-06-openai-api-pricing-...; cross-checked in Sraleik/undetermini PRICING.md, 2026-05-07)
    "gpt-4.1": (2.00, 8.00),
    # gpt-4o-2024-05-13: $5 / $15 (openrouter.ai/openai/gpt-4o-2024-05-13, OpenAI as the provider)
    "gpt-4o-2024-05-13": (5.00, 15.00),
}


def image_tokens(width: int, height: int) -> int:
    """Input tokens of one image at ``detail: high`` (OpenAI's tile rule, read literally: small images are
    scaled up to a 768-px shortest side too, so 512x512 and 1024x1024 both cost 4 tiles)."""
    if width <= 0 or height <= 0:
        raise ValueError("image sides must be positive")
    scale = min(1.0, 2048 / max(width, height))
    w, h = width * scale, height * scale
    scale = 768 / min(w, h)
    w, h = int(w * scale), int(h * scale)
    return 85 + 170 * math.ceil(w / 512) * math.ceil(h / 512)


@dataclass(frozen=True)
class Call:
    """One judge request: prompt characters, image sizes, reply tokens (assumed)."""

    prompt_chars: int
    images: tuple[tuple[int, int], ...]
    reply_tokens: int

    @property
    def input_tokens(self) -> int:
        return math.ceil(self.prompt_chars / 4) + sum(image_tokens(w, h) for w, h in self.images)


def usd(calls: int, call: Call, model: str) -> float:
    """Price of ``calls`` requests shaped like ``call`` with ``model``'s list price."""
    price_in, price_out = PRICES[model]
    return calls * (call.input_tokens * price_in + call.reply_tokens * price_out) / 1e6


@dataclass(frozen=True)
class Estimate:
    pack: str
    model: str
    calls: int  # ibench's calls: each question once per sample and repeat (re-asks on failure extra)
    anchor_calls: int  # what the anchor's own code makes
    usd: float  # for ibench's calls
    assumptions: str


def estimate(pack, shapes: dict[str, Call], assumptions: str = "") -> Estimate:
    """Cost of one model's outputs on ``pack``: ``shapes`` maps each judge question to its request shape."""
    judge = pack.judge
    missing = [q for q in judge.questions if q not in shapes]
    if missing:
        raise ValueError(f"{pack.name}: no request shape for question {missing[0]!r}")
    per_sample = sum(usd(1, shapes[q], judge.model) for q in judge.questions)
    calls = pack.samples * len(judge.questions) * judge.repeats
    return Estimate(pack.name, judge.model, calls, pack.samples * judge.calls_per_sample * judge.repeats,
                    pack.samples * judge.repeats * per_sample, assumptions)


#: Request shapes per pack and question: prompt characters are the pinned prompt files' sizes plus a typical
#: instruction; images at the sizes the anchors send; replies as the rubrics ask (an analysis, then a score).
SHAPES: dict[str, tuple[dict[str, Call], str]] = {
    "dreambench_plus": ({"cp": Call(2582 + 1717, ((512, 512), (512, 512)), 250),
                         "pf": Call(2500 + 1584 + 60, ((512, 512),), 250)},
                        "reference and output resized to 512x512; a ~250-token analysis per reply"),
    "omnicontext": ({"pf": Call(407 + 1173 + 150, ((1024, 1024),) * 3, 150),
                     "sc": Call(407 + 2195 + 150, ((1024, 1024),) * 3, 150)},
                    "two input images and a 1024x1024 output per sample; ~150-token replies; per 100 samples"),
    "gedit_bench": ({"sc": Call(403 + 338 + 769 + 60, ((1024, 1024),) * 2, 120),
                     "pq": Call(403 + 780, ((1024, 1024),), 120)},
                    "source and edit at about 1 MP; ~120-token replies; both languages"),
    "imagenhub": ({"sc": Call(440 + 300 + 750 + 60, ((512, 512),) * 2, 120),
                   "pq": Call(440 + 780, ((512, 512),), 120)},
                  "ImagenHub's 512x512 images; ~120-token replies; the five converted sub-tasks"),
}


def table() -> list[Estimate]:
    """The estimate for every pack (a pack whose size is known only after the fetch: per 100 samples)."""
    from dataclasses import replace

    from .registry import PACKS

    out = []
    for name, (shapes, note) in SHAPES.items():
        pack = PACKS[name]
        out.append(estimate(pack if pack.samples else replace(pack, samples=100), shapes, note))
    return out


if __name__ == "__main__":  # python -m ibench.packs.cost
    for e in table():
        print(f"{e.pack:16} {e.model:18} calls {e.calls:6d} (anchor's code: {e.anchor_calls:6d})  "
              f"${e.usd:8.2f}  [{e.assumptions}]")
