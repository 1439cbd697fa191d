"""Reading a judge's reply: one JSON object ``{"score": N, "reasoning": ...}`` or ``{"winner": ...}``.

Nothing is guessed: a reply without exactly one valid answer is a parse failure with the problem named
(the engine asks again, then records the failure). ``CHOICES`` lists the answers each format allows,
in the order the logprob reader scores them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Optional, Union

CHOICES: dict[str, tuple[str, ...]] = {"score": tuple(str(k) for k in range(11)), "winner": ("1", "2", "tie")}
KEYS = {"score": "score", "winner": "winner"}
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S | re.I)

Value = Union[int, str]


@dataclass(frozen=True)
class Parsed:
    value: Optional[Value]  # an int 0-10 (score) or "1"/"2"/"tie" (winner); None: failure
    reasoning: str = ""
    problem: str = ""  # why it did not parse


def answer_prefix(answer: str) -> str:
    """The reply's text up to the answer token: ``{"score": `` or ``{"winner": "``."""
    return '{"%s": %s' % (KEYS[answer], '"' if answer == "winner" else "")


def _objects(text: str) -> list[dict]:
    """Every top-level JSON object in ``text`` (code fences unwrapped)."""
    fenced = _FENCE.findall(text)
    text = "\n".join(fenced) if fenced else text
    decoder, out, i = json.JSONDecoder(), [], 0
    while True:
        i = text.find("{", i)
        if i < 0:
            return out
        try:
            obj, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            i += 1
            continue
        if isinstance(obj, dict):
            out.append(obj)
        i = end


def _value(answer: str, raw: object) -> tuple[Optional[Value], str]:
    if answer == "score":
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            return None, f"score {raw!r} is not an integer"
        try:
            number = float(raw)
        except ValueError:
            return None, f"score {raw!r} is not an integer"
        if not number.is_integer() or not 0 <= number <= 10:
            return None, f"score {raw!r} is not an integer from 0 to 10"
        return int(number), ""
    text = str(raw).strip().lower()
    text = {"image 1": "1", "image 2": "2", "first": "1", "second": "2"}.get(text, text)
    if text not in CHOICES["winner"]:
        return None, f"winner {raw!r} is not 1, 2 or tie"
    return text, ""


def parse_reply(text: Optional[str], answer: str) -> Parsed:
    """The answer of a reply, or the problem that stops it being read."""
    if not text or not text.strip():
        return Parsed(None, problem="empty reply")
    key = KEYS[answer]
    found = [o for o in _objects(text) if key in o]
    if not found:
        return Parsed(None, problem=f"no JSON object with a {key!r} field")
    values = {json.dumps(o[key]) for o in found}
    if len(values) > 1:
        return Parsed(None, problem=f"{len(found)} different {key!r} values")
    value, problem = _value(answer, found[0][key])
    reasoning = found[0].get("reasoning", "")
    return Parsed(value, reasoning if isinstance(reasoning, str) else json.dumps(reasoning), problem)
