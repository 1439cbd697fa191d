"""A pack run's outputs put to a judge the way the benchmark's own code asks, through ibench's judge engine.

For every judged sample the anchor's questions are rebuilt from its pinned prompt files
(``anchor_files``, ``protocol``): its messages, its image preprocessing, JPEG-encoded as the anchors send
them, its reply format (``Query.parse``: an unreadable reply is re-asked as it was, then a counted
failure). The engine adds ibench's identity, verdict cache, call budget and failure classes. DreamBench++
asks each question ``repeats`` times at temperature 1; each repeat has its own seed and its own cache
key. ``records`` turns the verdicts into the records the anchor's aggregation reads (``Pack.aggregate``).
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from ibench.core.instance import Instance
from ibench.core.paths import DataRoot, sha256_file
from ibench.errors import IbenchError

from . import anchor_files, protocol
from .spec import Pack

#: The sample each instance is judged on: every anchor generates one image per prompt.
JUDGED_SAMPLE = 0


@dataclass(frozen=True)
class Output:
    """A generated image to judge and the instance it answers."""

    instance: Instance
    sample: int
    path: Path
    sha256: str


def anchor_texts(pack: Pack, base_url: Optional[str] = None) -> dict[str, str]:
    """The pack's prompt texts, fetched at the pinned commit (SHA-256 checked) or read from the cache:
    by file path (prompt files) or by constant name (prompts kept as Python strings)."""
    names = {"omnicontext": protocol.OMNICONTEXT_STRINGS, "gedit_bench": protocol.GEDIT_STRINGS}.get(pack.name)
    if names is not None:
        return anchor_files.strings(pack.judge.prompts[0], names, base_url)
    return anchor_files.load_all(pack.judge.prompts, base_url)


class Asker:
    """Builds one pack's questions for one judge (its id keys the cache)."""

    def __init__(self, pack: Pack, judge_id: str, root: DataRoot, texts: dict[str, str], seed: int = 0):
        self.pack, self.judge_id, self.root, self.texts, self.seed = pack, judge_id, root, texts, seed
        self.digests = [p.sha256 for p in pack.judge.prompts]

    @functools.lru_cache(maxsize=None)
    def sha(self, path: str) -> str:
        return sha256_file(Path(path))

    def ref(self, inst: Instance, marker: str, k: int = 0) -> str:
        return str(self.root.resolve(inst.instruction.reference(marker).images[k]))

    def _finish(self, messages: list[dict], detail: Optional[str]) -> list[dict]:
        """Image parts as the anchors send them: their file's hash, JPEG, the anchor's ``detail``."""
        out = []
        for m in messages:
            if isinstance(m["content"], list):
                extra = {"format": "jpeg", **({"detail": detail} if detail else {})}
                parts = [{**p, "sha256": self.sha(p["path"]), **extra} if p["type"] == "image" else p
                         for p in m["content"]]
                m = {**m, "content": parts}
            out.append(m)
        return out

    def key(self, messages: list[dict], repeat: int) -> str:
        """(judge identity, the pinned prompt files, every text and image with how it is prepared, the repeat)."""
        def image(p: dict) -> dict:
            pre = {k: ([self.sha(x) for x in v] if k == "concat" else self.sha(v) if k == "resize_like" else v)
                   for k, v in (p.get("preprocess") or {}).items()}
            return {"sha256": p["sha256"], "preprocess": pre, "format": p.get("format"), "detail": p.get("detail")}

        flat = [[m["role"], m["content"] if isinstance(m["content"], str) else
                 [p["text"] if p["type"] == "text" else image(p) for p in m["content"]]] for m in messages]
        blob = json.dumps([self.judge_id, self.pack.name, self.digests, flat, repeat], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def query(self, out: Output, question: str, messages: list[dict], parse: Callable, repeat: int = 0,
              detail: Optional[str] = None, meta: Optional[dict] = None):
        from ibench.evaluators.judge.prompts import Query

        messages = self._finish(messages, detail)
        where = {"instance_id": out.instance.id, "sample": out.sample, "question": question, "repeat": repeat,
                 **(meta or {})}
        return Query(messages, "score", self.key(messages, repeat), question, "", where, parse=parse, retry="repeat",
                     seed=self.seed + repeat)

    def questions(self, outputs: list[Output]) -> list:
        build = BUILDERS[self.pack.name]
        return [q for out in outputs for q in build(self, out)]


# -- per anchor: the questions of one output ------------------------------------------------------------------

def _dreambench(a: Asker, out: Output) -> list:
    meta, parse = out.instance.meta, functools.partial(protocol.parse_score_line, top=4)
    reference = a.ref(out.instance, "ref#1")
    asked = []
    for repeat in range(a.pack.judge.repeats):
        for aspect in ("cp", "pf"):
            messages = protocol.dreambench_messages(a.texts, aspect, meta["category"], str(out.path), reference,
                                                    meta["anchor_text"])
            asked.append(a.query(out, aspect, messages, parse, repeat, detail="high"))
    return asked


def _omnicontext(a: Asker, out: Output) -> list:
    inst, parse = out.instance, functools.partial(protocol.parse_json_score, top=10)
    markers = sorted((r.marker for r in inst.instruction.references), key=lambda m: int(m.split("#")[1]))
    inputs = [a.ref(inst, m) for m in markers]
    scene = "scene" in inst.meta["task_type"]
    return [a.query(out, q, protocol.omnicontext_messages(a.texts, q, inst.meta["anchor_text"], inputs, str(out.path),
                                                          scene), parse) for q in ("pf", "sc")]


def _gedit(a: Asker, out: Output) -> list:
    inst, parse = out.instance, functools.partial(protocol.parse_json_score_list, top=10)
    source = a.ref(inst, "ref#1")
    return [a.query(out, q, protocol.gedit_messages(a.texts, q, inst.meta["anchor_text"], source, str(out.path)), parse)
            for q in ("sc", "pq")]


def _viescore_inputs(a: Asker, inst: Instance) -> tuple[list, str]:
    """The images VIEScore's SC question shows before the output, and its placeholder's text (run.py)."""
    subset, meta = inst.meta["subset"], inst.meta
    if subset == "text_guided_ie":
        return [a.ref(inst, "ref#1")], meta["anchor_text"]
    if subset == "subject_driven_ig":  # the subject's photo; the prompt without <token> (run.py:266-268)
        return [a.ref(inst, "ref#1")], inst.instruction.target_prompt
    if subset == "multi_concept_ic":  # the two concepts' first photos, 512x512 side by side
        return [protocol.concat_image([a.ref(inst, "ref#1"), a.ref(inst, "ref#2")])], meta["anchor_text"]
    if subset == "control_guided_ig":
        return [a.ref(inst, "ref#1")], meta["anchor_text"]
    if subset == "subject_driven_ie":  # source, the subject's photo (run.py:314-317)
        return [a.ref(inst, "ref#1"), a.ref(inst, "ref#2")], meta["subject"].replace("_", " ")
    raise IbenchError(f"ImagenHub instance {inst.id}: unknown subset {subset!r}")


def _imagenhub(a: Asker, out: Output) -> list:
    inst = out.instance
    subset = inst.meta["subset"]
    inputs, fill = _viescore_inputs(a, inst)
    asked, parse = [], functools.partial(protocol.parse_json_score_list, top=10)
    for q in ("sc", "pq"):
        messages = protocol.viescore_messages(a.texts, subset, q, fill, inputs, str(out.path))
        asked.append(a.query(out, q, messages, parse))
    return asked


BUILDERS: dict[str, Callable[[Asker, Output], list]] = {
    "dreambench_plus": _dreambench, "omnicontext": _omnicontext, "gedit_bench": _gedit, "imagenhub": _imagenhub}


# -- verdicts -> the anchor's records ---------------------------------------------------------------------------

#: What each anchor's aggregation reads about an instance (besides the scores).
FIELDS: dict[str, Callable[[dict], dict]] = {
    "dreambench_plus": lambda m: {"collection_id": m["collection_id"], "prompt_index": m["prompt_index"],
                                  "category": m["category"]},
    "omnicontext": lambda m: {"key": m["anchor_key"], "task_type": m["task_type"], "language": m["language"]},
    "gedit_bench": lambda m: {"key": m["anchor_key"], "task_type": m["task_type"], "language": m["language"],
                              "intersection": m["intersection"]},
    "imagenhub": lambda m: {"subset": m["subset"], "uid": m["anchor_key"]},
}


def records(pack: Pack, instances: dict[str, Instance], queries: list, verdicts: dict[str, dict]) -> list[dict]:
    """The aggregation's records: one per (sample, repeat) (DreamBench++: per aspect too), a failed verdict as
    None; a sample with a question not asked yet (the call budget) gives no record."""
    grouped: dict[tuple, dict[str, dict]] = {}
    for q in queries:
        m = q.meta
        grouped.setdefault((m["instance_id"], m["sample"], m["repeat"]), {})[m["question"]] = verdicts[q.key]
    out = []
    for (iid, sample, repeat), got in grouped.items():
        if any(v["status"] == "pending" for v in got.values()):
            continue
        base = {**FIELDS[pack.name](instances[iid].meta), "instance_id": iid, "repeat": repeat}
        scores = {q: (v["score"] if v["status"] == "ok" else None) for q, v in got.items()}
        if pack.name == "dreambench_plus":
            out += [{**base, "aspect": q, "score": s} for q, s in sorted(scores.items())]
        else:
            out.append({**base, **scores})
    return out
