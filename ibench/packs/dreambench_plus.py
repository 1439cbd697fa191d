"""DreamBench++ (Peng et al., ICLR 2025): 150 reference images x 9 prompts, judged by GPT-4o.

Anchor: github.com/yuangpeng/dreambench_plus at ``COMMIT``. The test set is ``data.zip`` of the hub
dataset ``yuangpeng/dreambench_plus``: ``images/<category>/<NN>.jpg`` and ``captions/<category>/<NN>.txt``
(line 1: the concept's name; lines 2-10: the nine prompts), read as the anchor's loader reads them
(dreambench_plus_dataset.py:29-56); categories ``animal``/``human`` live under ``live_subject/``.
Concept preservation (CP) and prompt following (PF) are 0-4 each; per judge run a score is the mean over
samples divided by 4 (benchmarking.py:26), over three runs the mean (benchmarking.py:69-83,
utils/misc.py:87-90), and the leaderboard's product is CP x PF of the rounded means (benchmarking.py:149).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from statistics import mean, stdev
from typing import Iterable, Mapping, Optional

from ibench.core.instruction import Reference
from ibench.errors import IbenchError

from .rows import PACKS_DIR, Converted, bind, instance, safe_key, save_image

ANCHOR = "yuangpeng/dreambench_plus"
COMMIT = "66ca27e52b5e7daa350bdb92ac8c60d4a9339c5e"
DATASET = "yuangpeng/dreambench_plus"
ARCHIVE = "data.zip"
#: Category (the folder of the image) -> the reference kind its concept is.
KINDS = {"animal": "subject", "human": "subject", "object": "subject", "style": "style"}
#: The CP table's columns (benchmarking.py:10, :79-82: a key is counted when the name is in it).
CP_CATEGORIES = ("animal", "human", "object", "style")
#: The PF table's columns: prompt index ranges (benchmarking.py:18-23).
PF_GROUPS = {"photorealistic": range(0, 4), "style_transfer": range(4, 7), "imaginative": range(7, 9)}
_IMAGE = re.compile(r"(?:^|/)images/(.+)\.jpg$")
_CAPTION = re.compile(r"(?:^|/)captions/(.+)\.txt$")


def read_collections(archive: Path) -> list[dict]:
    """The anchor's collections from ``data.zip``: collection_id, category, subject, prompts, member."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise IbenchError(f"{archive}: not a readable zip archive ({exc})") from None
    with zf:
        names = [n for n in zf.namelist() if not n.startswith("__MACOSX/")]
        images = {m.group(1): n for n in names if (m := _IMAGE.search(n))}
        captions = {m.group(1): n for n in names if (m := _CAPTION.search(n))}
        if set(images) != set(captions):  # the anchor refuses a mismatch too (dreambench_plus_dataset.py:42)
            odd = sorted(set(images) ^ set(captions))
            raise IbenchError(f"{archive}: image and caption files do not pair up (first: {odd[0]!r})")
        out = []
        for rel in sorted(images):
            lines = [line.strip() for line in zf.read(captions[rel]).decode("utf-8").splitlines()]
            while lines and not lines[-1]:
                lines.pop()
            if len(lines) < 2:
                raise IbenchError(f"{archive}:{captions[rel]}: expected a name line and prompt lines")
            category, index = rel.split("/")[-2], rel.split("/")[-1]
            if category not in KINDS:
                raise IbenchError(f"{archive}:{images[rel]}: unknown category {category!r} (known: {', '.join(KINDS)})")
            prefix = f"live_subject_{category}" if category in ("animal", "human") else category
            out.append({"collection_id": "_".join([prefix, index, lines[0].lower().replace(" ", "_")]),
                        "category": category, "subject": lines[0], "prompts": lines[1:], "member": images[rel],
                        "image": zf.read(images[rel])})
    return out


def convert(snapshots: Mapping[str, Path], root: Path, task: str = "pack_dreambench_plus",
            family: str = "in_domain") -> Converted:
    """One instance per (concept, prompt): the concept is ``[ref#1]``, bound where its name is in the prompt."""
    done = Converted()
    for c in read_collections(Path(snapshots[DATASET]) / ARCHIVE):
        kind = KINDS[c["category"]]
        rel = save_image(c["image"], root, f"{PACKS_DIR}/dreambench_plus/{c['member'].split('images/', 1)[1][:-4]}",
                         f"{ARCHIVE}:{c['member']}")
        what = "style" if kind == "style" else "subject"
        for i, prompt in enumerate(c["prompts"]):
            text, bound = bind(prompt, c["subject"], "ref#1")
            if not bound:
                text = f"{prompt}, in the style of [ref#1]" if kind == "style" else f"{prompt}, showing [ref#1]"
            group = next((g for g, r in PF_GROUPS.items() if i in r), "")
            ref = Reference(marker="ref#1", kind=kind, caption=c["subject"], images=[rel])
            checklist = [f"[ref#1] ({c['subject']}): the output keeps the reference's {what}",
                         f"The image follows the prompt: {prompt}"]
            meta = {"anchor": "dreambench_plus", "anchor_key": f"{c['collection_id']}-{i}",
                    "collection_id": c["collection_id"], "category": c["category"], "prompt_index": i,
                    "prompt_group": group, "anchor_text": prompt, "marker_bound": bound}
            done.instances.append(instance(task, family, safe_key(c["collection_id"], i), text, [ref], prompt,
                                           checklist, meta))
    return done


def _cal_score(scores: Mapping[str, int], name: Optional[str]) -> Optional[float]:
    """benchmarking.py:10-26: mean score / 4 over the keys ``name`` selects (all keys when None)."""
    if name is not None:
        picked = {}
        for k, v in scores.items():
            index = int(k.split("-")[-1])
            if name in k or (name in PF_GROUPS and index in PF_GROUPS[name]):
                picked[k] = v
        scores = picked
    return sum(scores.values()) / len(scores) / 4 if scores else None


def _avg_std(values: list[Optional[float]]) -> dict:
    """utils/misc.py:87-90: mean and sample standard deviation over the judge runs (None when undefined)."""
    if not values or any(v is None for v in values):
        return {"mean": None, "std": None, "runs": values}
    return {"mean": mean(values), "std": stdev(values) if len(values) > 1 else None, "runs": values}


def aggregate(records: Iterable[Mapping]) -> dict:
    """The anchor's table from verdict records.

    A record: ``collection_id``, ``prompt_index``, ``aspect`` (``cp`` or ``pf``), ``repeat`` (the judge
    run), ``score`` (0-4, or None for a failed verdict: left out as the anchor leaves out a sample whose
    retries ran out, eval_concept_preservation.py:164-178, and counted in ``failed``).
    """
    runs: dict[str, dict[object, dict[str, int]]] = {"cp": {}, "pf": {}}
    failed = {"cp": 0, "pf": 0}
    for r in records:
        aspect = r["aspect"]
        if aspect not in runs:
            raise IbenchError(f"DreamBench++ verdict: aspect {aspect!r} is not cp or pf")
        if r.get("score") is None:
            failed[aspect] += 1
            continue
        score = r["score"]
        if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 4:
            raise IbenchError(f"DreamBench++ verdict {r['collection_id']}-{r['prompt_index']}: score {score!r} "
                              f"is not an integer 0-4")
        runs[aspect].setdefault(r["repeat"], {})[f"{r['collection_id']}-{r['prompt_index']}"] = score
    scored = {a: set().union(*runs[a].values()) for a in runs}  # the samples with a score in some run
    out: dict = {"failed": failed, "samples": {a: sum(len(s) for s in runs[a].values()) for a in runs},
                 "scored_samples": {"cp": len(scored["cp"]), "pf": len(scored["pf"]),
                                    "cp_x_pf": len(scored["cp"] & scored["pf"])}}
    for aspect, columns in (("cp", CP_CATEGORIES), ("pf", tuple(PF_GROUPS))):
        files = [runs[aspect][k] for k in sorted(runs[aspect], key=str)]
        out[aspect] = _avg_std([_cal_score(f, None) for f in files])
        out[f"{aspect}_by"] = {c: _avg_std([_cal_score(f, c) for f in files]) for c in columns}
    cp, pf = out["cp"]["mean"], out["pf"]["mean"]
    # the printed means are rounded to 3 places before the product is taken (utils/misc.py:90, benchmarking.py:149)
    out["cp_x_pf"] = round(cp, 3) * round(pf, 3) if cp is not None and pf is not None else None
    return out


def counts(table: Mapping) -> dict[str, int]:
    """Per headline, the samples it is over: those with a CP (PF) score in some run; both, for CP x PF."""
    return dict(table["scored_samples"])


#: The bootstrap resamples samples within each category (the CP table's columns) and relabels a drawn
#: sample's ``collection_id`` (the anchor keys scores by it).
STRATA = ("category",)
UNIT = "collection_id"


def headlines(records: list[Mapping]) -> tuple[dict, dict]:
    """(the leaderboard's numbers: CP, PF, CP x PF; the whole table)."""
    table = aggregate(records)
    return {"cp": table["cp"]["mean"], "pf": table["pf"]["mean"], "cp_x_pf": table["cp_x_pf"]}, table
