"""ImagenHub (Ku et al., ICLR 2024): its conditional-generation test sets, judged the VIEScore way.

Anchors: github.com/TIGER-AI-Lab/ImagenHub at ``COMMIT`` (the loaders, src/imagen_hub/benchmark/*.py) and
github.com/TIGER-AI-Lab/VIEScore at ``VIESCORE_COMMIT`` (paper_implementation/: the prompt files and
run.py, which names the images each question shows). Each sub-task is its own hub dataset; the fields
converted are the ones the ImagenHub loaders read (cited per sub-task below). VIEScore's numbers
(analyze_json.ipynb): per sample SC and PQ are min(sub-scores)/10 clipped to [0, 1], O = sqrt(SC x PQ),
over the samples that have both; mean and population standard deviation (numpy's default).
The mask-guided and text-to-image sets are not converted: see docs/packs.md.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from statistics import mean, pstdev
from typing import Iterable, Mapping, Sequence, Union

from ibench.core.instruction import Reference
from ibench.errors import IbenchError

from .rows import PACKS_DIR, Converted, bind, image_bytes, instance, read_rows, safe_key, save_image, split_files

ANCHOR = "TIGER-AI-Lab/ImagenHub"
COMMIT = "439f72c9c0dc9e698171b5ee9e94eea9a0853536"
VIESCORE = "TIGER-AI-Lab/VIEScore"
VIESCORE_COMMIT = "2cbea4e8ce5721425a8772590ecdbe7d2edd1721"
TIE, SDIG, MSDIG = "ImagenHub/Text_Guided_Image_Editing", "ImagenHub/Subject_Driven_Image_Generation", \
    "ImagenHub/Multi_Subject_Driven_Image_Generation"
CIG, SDIE = "ImagenHub/Control_Guided_Image_Generation", "ImagenHub/Subject_Driven_Image_Editing"
CONCEPTS, MULTI_CONCEPTS = "ImagenHub/DreamBooth_Concepts", "ImagenHub/Multi_Subject_Concepts"
#: ImagenHub's control types -> ibench's; the others have no ibench control type yet (skipped, counted).
CONTROLS = {"canny": "edge", "depth": "depth"}


def _concepts(snapshot: Path, name_column: str, where: str) -> dict[str, list[bytes]]:
    """Concept name -> its images (DreamBooth_Concepts ``subject``/``image``; Multi_Subject_Concepts
    ``concept``/``image``, multi_concept_ic.py:46-51)."""
    out: dict[str, list[bytes]] = {}
    for row in read_rows(split_files(snapshot, "train"), (name_column, "image"), text=(name_column,)):
        out.setdefault(str(row[name_column]), []).append(image_bytes(row["image"], f"{where} {row[name_column]}"))
    return out


def _save_concept(images: list[bytes], root: Path, repo: str, name: str) -> list[str]:
    """A concept's photos under a folder of its own dataset: both concept sets name concepts alike ("cat")."""
    folder = f"{PACKS_DIR}/imagenhub/concepts/{safe_key(repo.rsplit('/', 1)[-1].lower())}/{safe_key(name)}"
    return [save_image(data, root, f"{folder}/{i:02d}", f"{repo} {name}") for i, data in enumerate(images)]


def _subject_name(subject: str) -> str:
    """subject_driven_ie.py:80-81: underscores to spaces, digits dropped ("dog2" -> "dog")."""
    return "".join(ch for ch in " ".join(subject.split("_")) if not ch.isdigit()).strip()


def convert(snapshots: Mapping[str, Path], root: Path, task: str = "pack_imagenhub") -> Converted:
    """The instances of every sub-task whose dataset is in ``snapshots``."""
    done = Converted()
    for repo, fn in ((TIE, _tie), (SDIG, _sdig), (MSDIG, _msdig), (CIG, _cig), (SDIE, _sdie)):
        if repo in snapshots:
            fn(snapshots, Path(root), task, done)
    if not done.instances and not done.skipped:
        raise IbenchError(f"ImagenHub: none of its datasets is in the snapshot ({', '.join(sorted(snapshots))})")
    return done


def _tie(snaps, root, task, done) -> None:
    """text_guided_ie.py:41-77: split ``filtered``; uid ``sample_<img_id>_<turn_index>.jpg``."""
    cols = ("img_id", "turn_index", "source_img", "instruction", "target_global_caption")
    for row in read_rows(split_files(Path(snaps[TIE]), "filtered"), cols, text=("instruction",), skipped=done.skipped):
        uid = f"sample_{row['img_id']}_{row['turn_index']}.jpg"
        rel = save_image(image_bytes(row["source_img"], f"{TIE} {uid}"), root,
                         f"{PACKS_DIR}/imagenhub/text_guided_ie/{uid[:-4]}", f"{TIE} {uid}")
        ref = Reference(marker="ref#1", kind="source", caption="the source image", images=[rel])
        meta = {"anchor": "imagenhub", "subset": "text_guided_ie", "anchor_key": uid, "anchor_text": row["instruction"]}
        done.instances.append(instance(task, "editing", safe_key("tie", uid[:-4]), f"Edit [ref#1]: {row['instruction']}",
                                       [ref], row["target_global_caption"],
                                       [f"The edit follows the instruction: {row['instruction']}"], meta))


def _with_subject(snaps, repo: str, columns: tuple[str, ...], text: tuple[str, ...], root: Path, done: Converted):
    """Rows of ``repo``'s ``eval`` split whose DreamBooth subject is known: (row, uid, name, its photos)."""
    concepts = _concepts(Path(snaps[CONCEPTS]), "subject", CONCEPTS)
    for row in read_rows(split_files(Path(snaps[repo]), "eval"), columns, text=text, skipped=done.skipped):
        uid, subject = f"sample_{row['uid']}.jpg", str(row["subject"])
        if subject not in concepts:
            done.skipped.append((uid, f"subject {subject!r} is not in {CONCEPTS}"))
            continue
        yield row, uid, _subject_name(subject), _save_concept(concepts[subject], root, CONCEPTS, subject)


def _sdig(snaps, root, task, done) -> None:
    """subject_driven_ig.py:42-55, :77-78, :118: split ``eval`` (uid, subject, prompt with ``<token>``)."""
    subject_rows = _with_subject(snaps, SDIG, ("uid", "subject", "prompt"), ("subject", "prompt"), root, done)
    for row, uid, name, rels in subject_rows:
        text = re.sub(r"<token>(\s+" + re.escape(name) + r")?", "[ref#1]", row["prompt"], count=1)
        if "[ref#1]" not in text:
            text = f"{row['prompt']}, showing [ref#1]"
        plain = row["prompt"].replace("<token> ", "")  # what VIEScore's SC question shows (run.py:266-268)
        ref = Reference(marker="ref#1", kind="subject", caption=f"the {name}", images=rels)
        meta = {"anchor": "imagenhub", "subset": "subject_driven_ig", "anchor_key": uid, "anchor_text": row["prompt"]}
        done.instances.append(instance(task, "in_domain", safe_key("sdig", row["uid"]), text, [ref], plain,
                                       [f"[ref#1] ({name}) is the reference subject", f"The image shows: {plain}"],
                                       meta))


def _msdig(snaps, root, task, done) -> None:
    """multi_concept_ic.py:28-32, :53-58: split ``train`` (uid, prompt, concept1, concept2)."""
    concepts = _concepts(Path(snaps[MULTI_CONCEPTS]), "concept", MULTI_CONCEPTS)
    for row in read_rows(split_files(Path(snaps[MSDIG]), "train"), ("uid", "prompt", "concept1", "concept2"),
                         text=("prompt", "concept1", "concept2"), skipped=done.skipped):
        uid, names = f"sample_{row['uid']}.jpg", (str(row["concept1"]), str(row["concept2"]))
        missing = [c for c in names if c not in concepts]
        if missing:
            done.skipped.append((uid, f"concept {missing[0]!r} is not in {MULTI_CONCEPTS}"))
            continue
        text, refs = row["prompt"], []
        for k, concept in enumerate(names, start=1):
            text, bound = bind(text, concept, f"ref#{k}")
            if not bound:
                text = f"{text}, with [ref#{k}]"
            refs.append(Reference(marker=f"ref#{k}", kind="subject", caption=f"the {concept}",
                                  images=_save_concept(concepts[concept], root, MULTI_CONCEPTS, concept)))
        meta = {"anchor": "imagenhub", "subset": "multi_concept_ic", "anchor_key": uid, "anchor_text": row["prompt"]}
        done.instances.append(instance(task, "zero_shot", safe_key("msdig", row["uid"]), text, refs, row["prompt"],
                                       ["[ref#1] and [ref#2] are both the reference subjects",
                                        f"The image shows: {row['prompt']}"], meta))


def _cig(snaps, root, task, done) -> None:
    """control_guided_ig.py:41-70: split ``eval``; uid ``sample_<img_id>_control_<control_type>.jpg``."""
    for row in read_rows(split_files(Path(snaps[CIG]), "eval"), ("img_id", "control_type", "guide", "text"),
                         text=("control_type", "text"), skipped=done.skipped):
        uid = f"sample_{row['img_id']}_control_{row['control_type']}.jpg"
        control = CONTROLS.get(str(row["control_type"]))
        if control is None:
            done.skipped.append((uid, f"control type {row['control_type']!r} has no ibench control type"))
            continue
        rel = save_image(image_bytes(row["guide"], f"{CIG} {uid}"), root, f"{PACKS_DIR}/imagenhub/control/{uid[:-4]}",
                         f"{CIG} {uid}")
        ref = Reference(marker="ref#1", kind="control", control=control, caption=f"the {control} map", images=[rel])
        meta = {"anchor": "imagenhub", "subset": "control_guided_ig", "anchor_key": uid, "anchor_text": row["text"]}
        done.instances.append(instance(task, "in_domain", safe_key("cig", uid[:-4]), f"{row['text']}, following [ref#1]",
                                       [ref], row["text"], [f"The image follows [ref#1] and shows: {row['text']}"],
                                       meta))


def _sdie(snaps, root, task, done) -> None:
    """subject_driven_ie.py:41-92: split ``eval`` (uid, subject, image: the photo to edit)."""
    for row, uid, name, rels in _with_subject(snaps, SDIE, ("uid", "subject", "image"), ("subject",), root, done):
        source = save_image(image_bytes(row["image"], f"{SDIE} {uid}"), root,
                            f"{PACKS_DIR}/imagenhub/subject_edit/{uid[:-4]}", f"{SDIE} {uid}")
        refs = [Reference(marker="ref#1", kind="source", caption="the source image", images=[source]),
                Reference(marker="ref#2", kind="subject", caption=f"the {name}", images=rels)]
        meta = {"anchor": "imagenhub", "subset": "subject_driven_ie", "anchor_key": uid, "subject": row["subject"]}
        done.instances.append(instance(task, "editing", safe_key("sdie", row["uid"]),
                                       f"Replace the {name} in [ref#1] with [ref#2]", refs, f"a photo of a {name}",
                                       [f"The {name} of [ref#1] is now [ref#2]; the rest is unchanged"], meta))


Scores = Union[None, int, float, Sequence[Union[int, float]]]


def _unit(value: Scores) -> float:
    """analyze_json.ipynb ``preprocess``/``map_to_nearest_higher``: min of the sub-scores / 10, in [0, 1]."""
    values = [value] if isinstance(value, (int, float)) else [int(v) for v in value]
    return min(1.0, max(0.0, min(values) / 10.0))


def viescore(sc: Mapping[str, Scores], pq: Mapping[str, Scores]) -> dict:
    """VIEScore's SC, PQ and O (mean and population std) over the samples present in both maps with a
    verdict (``align_dicts``); a None verdict is a counted failure, not a sample."""
    keys = sorted(k for k in set(sc) & set(pq) if sc[k] is not None and pq[k] is not None)
    failed = len([k for k in set(sc) | set(pq) if sc.get(k) is None or pq.get(k) is None])
    s, q = [_unit(sc[k]) for k in keys], [_unit(pq[k]) for k in keys]
    o = [math.sqrt(a * b) for a, b in zip(s, q)]
    out: dict = {"n": len(keys), "failed": failed}
    for name, values in (("sc", s), ("pq", q), ("o", o)):
        out[name], out[f"{name}_std"] = (mean(values), pstdev(values)) if values else (None, None)
    return out


def aggregate(records: Iterable[Mapping]) -> dict:
    """VIEScore per sub-task from verdict records (``subset``, ``uid``, ``sc``, ``pq``)."""
    by: dict[str, tuple[dict, dict]] = {}
    for r in records:
        sc, pq = by.setdefault(r["subset"], ({}, {}))
        sc[r["uid"]], pq[r["uid"]] = r.get("sc"), r.get("pq")
    return {subset: viescore(sc, pq) for subset, (sc, pq) in sorted(by.items())}


def counts(table: Mapping) -> dict[str, int]:
    """Per headline, the samples it is over: the sub-task's samples with both SC and PQ."""
    return {f"{subset}/{k}": row["n"] for subset, row in table.items() for k in ("sc", "pq", "o")}


STRATA = ("subset",)
UNIT = "uid"


def headlines(records: list[Mapping]) -> tuple[dict, dict]:
    """(per sub-task VIEScore's SC, PQ and O; the table)."""
    table = aggregate(records)
    return {f"{subset}/{k}": row[k] for subset, row in table.items() for k in ("sc", "pq", "o")}, table
