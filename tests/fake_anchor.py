"""Stand-ins for the benchmarks' judge prompt files and their official judge, for tests (never the network).

ibench never ships an anchor's prompt text, and tests may not download it: ``stand_in(pack)`` writes short
stand-in texts with the same names, string constants and placeholders as the anchor's files, pins them
(SHA-256, size) in a copy of the pack, and returns the files a ``loopback.FileMirror`` serves at the pinned
commit. Each stand-in carries a tag naming the reply format the anchor's code reads (``[[reply:...]]``,
``[[count:N]]``), so ``AnchorJudge`` (a ``fake_openai.FakeOpenAI`` reply function) answers every request
in its benchmark's own format, as GPT-4o/GPT-4.1 do: an analysis, then the score (``AnchorJudge``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re

from fake_datasets import COMMIT as HUB_COMMIT
from fake_openai import Canned, user_text
from ibench.packs import AnchorFile, protocol
from ibench.packs.spec import Pack

_TAG = re.compile(r"\[\[reply:(\w+)\]\]")
_COUNT = re.compile(r"\[\[count:(\d+)\]\]")


def _python(constants: dict[str, str]) -> bytes:
    return "".join(f"{name} = {json.dumps(text)}\n" for name, text in constants.items()).encode()


def _texts(pack: Pack) -> dict[str, bytes]:
    """Stand-in bytes for every prompt file the pack pins."""
    if pack.name == "omnicontext":
        names = protocol.OMNICONTEXT_STRINGS
        return {pack.judge.prompts[0].path: _python({n: f"{n} [[reply:json_score]] about <instruction>. " for n in names})}
    if pack.name == "gedit_bench":
        return {pack.judge.prompts[0].path: _python({n: f"{n} [[reply:json_score_list]] about <instruction>."
                                                     for n in protocol.GEDIT_STRINGS})}
    if pack.name == "dreambench_plus":
        return {p.path: f"{p.name}: rate 0-4 [[reply:score_line]]\n\n".encode() for p in pack.judge.prompts}
    out = {}
    for p in pack.judge.prompts:  # VIEScore: context + rule files with their placeholders
        count = "[[count:3]]" if p.name == "msdig_rule_SC.txt" else ""
        out[p.path] = f"{p.name} [[reply:json_score_list]]{count} <instruction> <prompt> <subject>\n".encode()
    return out


def stand_in(pack: Pack) -> tuple[Pack, dict[str, bytes]]:
    """(the pack with its datasets at the fake hub's commit and its prompt pins on the stand-ins, the mirror's
    files by URL path)."""
    texts = _texts(pack)
    pins = tuple(AnchorFile(p.repo, p.commit, p.path, hashlib.sha256(texts[p.path]).hexdigest(), len(texts[p.path]))
                 for p in pack.judge.prompts)
    datasets = tuple(dataclasses.replace(d, revision=HUB_COMMIT, pins={}) for d in pack.datasets)
    patched = dataclasses.replace(pack, datasets=datasets, judge=dataclasses.replace(pack.judge, prompts=pins))
    return patched, {f"/{p.repo}/{p.commit}/{p.path}": texts[p.path] for p in pins}


class AnchorJudge:
    """The official judge, as a ``FakeOpenAI`` reply function: each request answered in the format its stand-in
    prompt names, a score that depends on the request (so CIs have spread). A request whose user text contains
    one of ``refuse`` gets a content-filter error (Azure's wording); one containing ``garble`` gets an unreadable
    reply the first time only (the re-ask is answered)."""

    def __init__(self, refuse: tuple[str, ...] = (), garble: tuple[str, ...] = ()):
        self.refuse, self.garble, self.garbled = refuse, garble, set()

    def __call__(self, body: dict, n: int):
        text = user_text(body)
        if any(r in text for r in self.refuse):
            return Canned(status=400, error={"message": "The response was filtered due to the prompt triggering "
                                                        "content management policy.", "type": "invalid_request_error",
                                             "param": "prompt", "code": "content_filter"})
        hit = next((g for g in self.garble if g in text and g not in self.garbled), None)
        if hit is not None:
            self.garbled.add(hit)
            return "I cannot rate this image."
        return reply_for(text, body)


def reply_for(text: str, body: dict) -> str:
    """A reply in the format the request's stand-in prompt names (an analysis, then the score)."""
    fmt = _TAG.search(text).group(1)
    images = sum(1 for m in body["messages"] if isinstance(m["content"], list)
                 for p in m["content"] if p["type"] == "image_url")
    seed = int(hashlib.sha256(json.dumps(body["messages"]).encode()).hexdigest()[:6], 16)
    if fmt == "score_line":
        return f"The image shows what was asked. Analysis done.\nScore: {seed % 5}"
    if fmt == "json_score":
        return json.dumps({"score": 4 + seed % 7, "reasoning": f"{images} images seen"})
    count = int(_COUNT.search(text).group(1)) if _COUNT.search(text) else 2
    return "```json\n" + json.dumps({"score": [3 + (seed >> k) % 8 for k in range(count)], "reasoning": "ok"}) + "\n```"
