"""The rating rubric: ImagenHub's definitions of semantic consistency (SC) and perceptual quality (PQ).

SC and PQ each take 0, 0.5 or 1. With several conditions (the task's checklist), each condition is
rated and SC is the minimum over them; the overall score of a sample is O = sqrt(SC * PQ).
Source: ImagenHub, docs/Guidelines/humaneval.md (Ku et al., 2023), used by Instruct-Imagen.
"""

from __future__ import annotations

from typing import Sequence

LEVELS = (0.0, 0.5, 1.0)

SC_DEFINITION = ("**Semantic consistency (SC)** measures how well the image follows the conditions given "
                 "(the prompt, the subject, the style, the control map, ...).")
SC_LEVELS = {
    0.0: "SC = 0: the image does not follow one or more of the conditions at all (e.g. not following the prompt "
         "at all, a wrong subject).",
    0.5: "SC = 0.5: all the conditions are partly followed.",
    1.0: "SC = 1: the overall idea is correct (every condition is followed in most part).",
}
CONDITION_LEVELS = {0.0: "0 · not following at all", 0.5: "0.5 · following some part",
                    1.0: "1 · following most part"}

PQ_DEFINITION = ("**Perceptual quality (PQ)** measures how visually convincing the image is and whether it "
                 "gives off a natural sense.")
PQ_LEVELS = {
    0.0: "PQ = 0: obvious distortion or artifacts at first glance that make the objects unrecognizable.",
    0.5: "PQ = 0.5: the image gives off an unnatural sense, or has minor artifacts while the objects stay "
         "recognizable.",
    1.0: "PQ = 1: the image looks genuine.",
}
PQ_OPTIONS = {0.0: "0 · unrecognizable, serious artifacts",
              0.5: "0.5 · recognizable, some artifacts or unusual sense",
              1.0: "1 · recognizable, no artifacts, natural"}
ARTIFACTS = ("distortion", "watermark", "scratches", "blurred faces", "unusual body parts", "subjects not harmonized")
UNUSUAL_SENSE = ("wrong sense of distance (subject too big or too small compared to others)", "wrong shadow",
                 "wrong lighting")


# -- pairwise studies ---------------------------------------------------------------------------------------
#: The questions of a pairwise study (``ibench.core.pairwise.Aspect`` values) and their wording.
PAIR_ASPECTS = ("sc", "pq")
PAIR_QUESTIONS = {"sc": "Which output follows the instruction better?",
                  "pq": "Which output has the better perceptual quality?"}
SIDES = ("left", "right", "tie")


def to_model(choice: dict[str, str], flipped: bool) -> dict[str, str]:
    """Screen answers (left/right/tie) -> model terms (a/b/tie); ``flipped``: model B was shown left."""
    side = {"left": "b" if flipped else "a", "right": "a" if flipped else "b", "tie": "tie"}
    return {k: side[v] for k, v in choice.items()}


def to_screen(pref: dict[str, str], flipped: bool) -> dict[str, str]:
    """Model terms (a/b/tie) -> what this rater saw (left/right/tie)."""
    side = {"a": "right" if flipped else "left", "b": "left" if flipped else "right", "tie": "tie"}
    return {k: side[v] for k, v in pref.items() if v in side}


def sc_from_conditions(values: Sequence[float]) -> float:
    """SC of a rating: the minimum over its conditions (ImagenHub's SC table)."""
    if not values:
        raise ValueError("no condition values")
    return float(min(values))


def guide_markdown() -> str:
    """The whole rubric as Markdown, for the rating page."""
    lines = [SC_DEFINITION, "", *[f"- {t}" for t in SC_LEVELS.values()],
             "- With several conditions, rate each one; SC is the **minimum** over them.", "",
             PQ_DEFINITION, "", *[f"- {t}" for t in PQ_LEVELS.values()], "",
             f"*Artifacts*: {', '.join(ARTIFACTS)}. *Unusual sense*: {', '.join(UNUSUAL_SENSE)}."]
    return "\n".join(lines)
