"""``ibench judge meta --pack NAME``: ibench's own judge on a fetched pack's items, beside the published judges.

A pack (``ibench data fetch --pack``; ``ibench.data.packs``) holds the people's labels and, for judging,
``<root>/<pack>/items.jsonl``: one line per thing the raters saw, with paths relative to the pack folder::

    pointwise (viescore: ImagenHub's images): {"task", "model", "item", "sample"?, "instruction", "references"?, "output"}
    pairwise (genaibench, mmrb2-edit): {"task", "item", "instruction", "references"?, "a", "b", "human"?}

``references``: ``[{"kind": "source"|"subject"|"content"|"style"|"control", "control"?, "caption"?, "images": [...]}]``;
``task`` and ``model`` as the people's ratings name them (ImagenHub's tasks under their ibench names, e.g.
``txt2img``; VIEScore's model names).
The judge sees the instruction, the references and the output (or the two outputs, in both orders), through
the judge engine's public API (``Judge``: verdicts cached by content, so a rerun asks only what is missing
and an interrupted run resumes). Pointwise: SC asks whether the image follows the instruction, PQ is the
minimum of naturalness and artifacts, each /10; O = √(SC·PQ). Pairwise: the winner of each order is a vote.
The pack's published judges are read too (VIEScore's ``_answers``, GenAI-Bench's ``results/``) when present.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Optional

from ibench.errors import IbenchError

from . import exact
from .sources import Sources, Spec, read_human, read_judge

POINTWISE = {"viescore"}  # ImagenHub's rated images, beside VIEScore's ratings and judges (the ``viescore`` pack)
PAIRWISE = {"genaibench", "mmrb2-edit"}
SC_CONDITION = "The image follows the instruction"  # ImagenHub's semantic-consistency question, as ibench words it
PQ_PARTS = ("naturalness", "artifacts")
RATINGS = "viescore/_human_annotations/ImagenHub_human_eval_results"


def read_items(folder: Path, pack: str, limit: Optional[int]) -> list[dict]:
    path = folder / "items.jsonl"
    if not path.is_file():
        raise IbenchError(f"pack {pack}: {path} not found: the pack's items (what the raters saw) are not fetched "
                          f"(`ibench data fetch --pack {pack}`, see docs/judge.md)")
    items, per_task = [], {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise IbenchError(f"{path}:{n}: not JSON ({exc.msg})") from None
        need = ("task", "item", "instruction", *(("model", "output") if pack in POINTWISE else ("a", "b")))
        missing = [k for k in need if not isinstance(item, dict) or item.get(k) in (None, "")]
        if missing:
            raise IbenchError(f"{path}:{n}: no {missing[0]!r}")
        per_task[item["task"]] = per_task.get(item["task"], 0) + 1
        if limit is None or per_task[item["task"]] <= limit:
            items.append(item)
    return items


def _instruction(folder: Path, item: dict, where: str):  # noqa: ANN202 - (Instruction, references by marker)
    from ibench.core.instruction import Instruction, Reference
    from ibench.core.paths import sha256_file
    from ibench.evaluators.judge.prompts import Image

    refs, images, text = [], {}, str(item["instruction"])
    for k, ref in enumerate(item.get("references") or [], 1):
        marker = f"ref#{k}"
        try:
            refs.append(Reference(marker=marker, kind=ref["kind"], control=ref.get("control"),
                                  caption=ref.get("caption", ""), images=list(ref["images"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise IbenchError(f"{where}: reference {k}: {exc}") from None
        images[marker] = [Image(p, sha256_file(p)) for p in (_file(folder, i, where) for i in ref["images"])]
        text += f" [{marker}]"
    return Instruction(text=text, references=refs, target_prompt=str(item["instruction"])), images


def _file(folder: Path, rel: str, where: str) -> Path:
    path = (folder / rel).resolve()
    if folder.resolve() not in path.parents or not path.is_file():
        raise IbenchError(f"{where}: image {rel!r} is not a file inside the pack {folder}")
    return path


def _image(folder: Path, rel: str, where: str):  # noqa: ANN202
    from ibench.core.paths import sha256_file
    from ibench.evaluators.judge.prompts import Image

    path = _file(folder, rel, where)
    return Image(path, sha256_file(path))


def ask(judge, folder: Path, items: list[dict], pairwise: bool) -> tuple[list, dict]:  # noqa: ANN001
    """The judge's questions about every item, and its verdicts (cached ones included)."""
    queries = []
    for item in items:
        where = f"{folder / 'items.jsonl'} item {item['item']!r}"
        instruction, refs = _instruction(folder, item, where)
        meta = {"task": item["task"], "item": str(item["item"]), "model": item.get("model"),
                "sample": int(item.get("sample") or 0)}
        if pairwise:
            a, b = _image(folder, item["a"], where), _image(folder, item["b"], where)
            queries += [judge.builder.pair(instruction, refs, first, second, "overall", {**meta, "order": order})
                        for order, (first, second) in (("ab", (a, b)), ("ba", (b, a)))]
        else:
            out = _image(folder, item["output"], where)
            queries.append(judge.builder.sc(instruction, refs, out, SC_CONDITION, {**meta, "part": "sc"}))
            queries += [judge.builder.pq(part, out, {**meta, "part": part}) for part in PQ_PARTS]
    return queries, judge.ask(queries, progress=True)


def pointwise_rows(label: str, queries: list, verdicts: dict) -> list[tuple]:
    """Score rows from the verdicts: an image gets a measure only when all its verdicts for it succeeded."""
    parts: dict[tuple, dict[str, float]] = {}
    for q in queries:
        v = verdicts[q.key]
        image = (q.meta["task"], q.meta["model"], q.meta["item"], q.meta["sample"])
        parts.setdefault(image, {})[q.meta["part"]] = v["score"] if v["status"] == "ok" else math.nan
    rows = []
    for (task, model, item, sample), got in parts.items():
        sc = exact.fraction(got["sc"]) / 10 if not math.isnan(got.get("sc", math.nan)) else None
        pq_parts = [got.get(p, math.nan) for p in PQ_PARTS]
        pq = None if any(math.isnan(p) for p in pq_parts) else exact.fraction(min(pq_parts)) / 10
        base = (label, task, model, item, sample)
        rows += [(*base, "SC", float(sc))] if sc is not None else []
        rows += [(*base, "PQ", float(pq))] if pq is not None else []
        rows += [(*base, "O", exact.sqrt(sc * pq))] if sc is not None and pq is not None else []
    return rows


def pairwise_rows(label: str, queries: list, verdicts: dict, human: dict[tuple[str, str], str]) -> list[tuple]:
    """Vote rows: a winner "1" (shown first) / "2" / "tie" as a vote between the pair's A and B."""
    rows = []
    for q in queries:
        v, order = verdicts[q.key], q.meta["order"]
        winner = v.get("winner") if v["status"] == "ok" else None
        vote = None if winner is None else "tie" if winner == "tie" else (
            "A>B" if (winner == "1") == (order == "ab") else "B>A")
        key = (q.meta["task"], q.meta["item"])
        if key in human:
            rows.append((label, *key, order, vote, human[key]))
    return rows


def _human_votes(root: Path, pack: str, items: list[dict]) -> dict[tuple[str, str], str]:
    """The people's vote per (task, item): from the items, else from the pack's label files."""
    out = {(i["task"], str(i["item"])): i["human"] for i in items if i.get("human")}
    if pack == "genaibench" and (root / pack / "results").is_dir():
        from .anchors import read_genaibench

        for _, task, item, _, _, human in read_genaibench(root / pack / "results"):
            out.setdefault((task, item), human)
    if pack == "mmrb2-edit":
        from .anchors import read_mmrb2_labels

        path = root / pack / "edit_response_only.json"
        if path.is_file():
            for task, pairs in read_mmrb2_labels(path).items():
                out.update({(i["task"], str(i["item"])): pairs[str(i["item"])] for i in items
                            if str(i["item"]) in pairs and (i["task"], str(i["item"])) not in out})
    return out


def add_pack(sources: Sources, pack: str, data_dir: Optional[Path], judge_config: Optional[str],
             max_calls: Optional[int] = None, limit: Optional[int] = None) -> None:
    """Judge a pack's items with ibench's judge and add its rows, the people's and the published judges'."""
    from ibench.core.paths import default_data_dir
    from ibench.data.packs import get_pack
    from ibench.evaluators.judge.engine import Judge

    if pack not in POINTWISE | PAIRWISE:
        raise IbenchError(f"--pack {pack!r}: judge packs are {', '.join(sorted(POINTWISE | PAIRWISE))}")
    if pack in PAIRWISE:
        get_pack(pack)
    root = Path(data_dir or default_data_dir()).expanduser()
    folder = root / pack
    items = read_items(folder, pack, limit)
    judge = Judge(judge_config, max_calls=max_calls)
    try:
        queries, verdicts = ask(judge, folder, items, pack in PAIRWISE)
    finally:
        judge.close()
    cached = sum(bool(v.get("cached")) for v in verdicts.values())
    failed = sum(v["status"] != "ok" for v in verdicts.values())
    print(f"pack {pack}: {len(queries)} questions to {judge.label} ({cached} cached, {failed} failed or pending)",
          file=sys.stderr)
    if pack in POINTWISE:
        ratings = root / RATINGS
        if not ratings.is_dir():
            raise IbenchError(f"pack {pack}: the people's ratings are not at {ratings} (`ibench data fetch --pack "
                              f"viescore`)")
        read_human(Spec("imagenhub", str(ratings)), sources)
        sources.scores += pointwise_rows(judge.label, queries, verdicts)
        answers = root / "viescore" / "_answers"
        if answers.is_dir():
            read_judge(Spec("viescore", str(answers)), sources)
    else:
        sources.votes += pairwise_rows(judge.label, queries, verdicts, _human_votes(root, pack, items))
        if pack == "genaibench" and (folder / "results").is_dir():
            read_judge(Spec("genaibench", str(folder / "results")), sources)
