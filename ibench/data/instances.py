"""Instances of a task: drawn deterministically from a data root for a seed, or read from a user's JSONL."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ibench.core.instance import SAFE_ID, Instance, instance_id, render_checklist
from ibench.core.instruction import Instruction, Reference
from ibench.core.paths import DataRoot
from ibench.core.taskspec import ReferenceSpec, TaskSpec
from ibench.core.vocabulary import REFERENCE_KINDS
from ibench.core.yamlio import describe
from ibench.errors import IbenchError

from .catalog import Catalog, Photo, Subject
from .controls import ensure_control

class _Cycle:
    """Draws items in a shuffled order, reshuffling after each pass: balanced coverage."""

    def __init__(self, items: list, rng: random.Random):
        self.items, self.rng, self.queue = list(items), rng, []

    def next(self, exclude: tuple = ()):
        for _ in range(2):
            if not self.queue:
                self.queue = self.rng.sample(self.items, len(self.items))
            for i, item in enumerate(self.queue):
                if item not in exclude:
                    return self.queue.pop(i)
            self.queue = []
        raise IbenchError("not enough distinct items in the data root for this task's references")


class _Drawer:
    def __init__(self, spec: TaskSpec, catalog: Catalog, seed: int):
        self.spec, self.catalog = spec, catalog
        self.rng = random.Random(f"ibench:{spec.name}:{seed}")
        self.subjects = _Cycle(catalog.subjects, self.rng)
        self.cycles: dict[str, _Cycle] = {}

    def pool(self, ref: ReferenceSpec) -> _Cycle:
        pools = [p for p in ref.pools if p != "same_subject"] or list(REFERENCE_KINDS[ref.kind].default_pools)
        key = ",".join(pools)
        if key not in self.cycles:
            items: list = []
            for pool in pools:
                items += self.catalog.subjects if pool == "subject" else self.catalog.photos(pool)
            self.cycles[key] = _Cycle(items, self.rng)
        return self.cycles[key]

    def draw(self) -> tuple[Instruction, dict[str, Any]]:
        rng, refs, meta = self.rng, [], {"subjects": [], "classes": []}
        subjects: list[Subject] = []
        held_out: dict[str, str] = {}
        photo: Photo | None = None
        control_subject: Subject | None = None
        for rs in self.spec.references:
            if rs.kind == "subject":
                s = self.subjects.next(exclude=tuple(subjects))
                subjects.append(s)
                n = min(rs.views, max(1, len(s.images) - 1))
                views = sorted(rng.sample(list(s.images), n))
                rest = [im for im in s.images if im not in views]
                held_out[s.name] = rng.choice(rest) if rest else views[-1]
                refs.append(self._ref(rs, views, cls=s.cls))
                meta["subjects"].append(s.name)
                meta["classes"].append(s.cls)
                continue
            if rs.kind == "control" and "same_subject" in rs.pools and subjects:
                source, caption = held_out[subjects[0].name], ""
            else:
                item = self.pool(rs).next(exclude=tuple(subjects))
                if isinstance(item, Subject):
                    control_subject, source, caption = item, rng.choice(item.images), ""
                else:
                    source, caption = item.image, item.caption
                    photo = photo or (item if item.pool == "content" else None)
            meta.setdefault(f"{rs.kind}_source", source)
            image = ensure_control(self.catalog.root, rs.control, source) if rs.kind == "control" else source
            refs.append(self._ref(rs, [image], caption=caption))
        if control_subject is not None:
            meta["classes"].append(control_subject.cls)
        prompt = self._prompt(subjects or ([control_subject] if control_subject else []), photo, meta)
        template = rng.choice(self.spec.templates)
        text = template.replace("{prompt}", prompt)
        return Instruction(text=text, references=refs, target_prompt=prompt), meta

    def _ref(self, rs: ReferenceSpec, images: list[str], **fields: str) -> Reference:
        fields.setdefault("cls", "subject")
        fields.setdefault("caption", "")
        fields["control"] = rs.control or ""
        caption = (rs.caption or REFERENCE_KINDS[rs.kind].caption).format(**fields)
        return Reference(marker=rs.marker, kind=rs.kind, control=rs.control, caption=caption, images=images)

    def _prompt(self, subjects: list[Subject], photo: Photo | None, meta: dict) -> str:
        if self.spec.prompts == "content" and photo is not None:
            return photo.caption
        if self.spec.prompts == "scene" and len(subjects) > 1:
            names = " and ".join(f"a {s.cls}" for s in subjects)
            return f"{names} {self.rng.choice(self.catalog.scenes)}"
        subject = subjects[0] if subjects else None
        if subject is None:  # a prompt about a subject that is not referenced (txt2img, style_gen)
            subject = self.subjects.next()
            meta["classes"].append(subject.cls)
        return self.rng.choice(self.catalog.subject_prompts(subject))


def checklist(spec: TaskSpec, instruction: Instruction) -> list[str]:
    return render_checklist(list(spec.checklist), instruction)


def build_instances(spec: TaskSpec, root: DataRoot, seed: int = 0, count: int | None = None) -> list[Instance]:
    """The first ``count`` (default: the task's) instances; the same seed gives the same list."""
    count = spec.instances if count is None else count
    drawer, out, seen = _Drawer(spec, Catalog(root), seed), [], set()
    for _ in range(max(50, count * 20)):
        if len(out) == count:
            break
        instruction, meta = drawer.draw()
        iid = instance_id(spec.name, instruction)
        if iid in seen:
            continue
        seen.add(iid)
        meta = {k: v for k, v in meta.items() if v}
        out.append(Instance(id=iid, task=spec.name, task_version=spec.version, family=spec.family,
                            instruction=instruction, checklist=checklist(spec, instruction), meta=meta))
    for inst in out:
        inst.instruction.check_files(root)
    return out


#: Keys of a line of an --instances file: the Instance fields (as ``ibench instances`` exports them).
LINE_KEYS = frozenset({"instruction", "id", "meta", "checklist", "task", "task_version", "family"})


def load_instances(path, spec: TaskSpec, root: DataRoot) -> list[Instance]:
    """Instances from a JSONL file (bring your own instructions): each line is an ``Instance`` or
    ``{"instruction": {...}, "id"?: ..., "meta"?: {...}}``; errors name the file and line."""
    path, out, seen = Path(path), [], set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise IbenchError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise IbenchError(f"{path}: cannot read ({exc.strerror})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise IbenchError(f"{where}: invalid JSON ({exc.msg})") from None
        if not isinstance(row, dict) or "instruction" not in row:
            raise IbenchError(f"{where}: each line must be a JSON object with an 'instruction'")
        unknown = sorted(set(row) - LINE_KEYS)
        if unknown:
            raise IbenchError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(LINE_KEYS))})")
        try:
            instruction = Instruction.model_validate(row["instruction"])
        except ValidationError as exc:
            raise IbenchError(f"{where}: instruction {describe(exc)}") from None
        try:
            instruction.check_files(root)
        except IbenchError as exc:
            raise IbenchError(f"{where}: {exc}") from None
        iid = str(row.get("id") or instance_id(spec.name, instruction))
        if not SAFE_ID.match(iid):  # ids name folders (images/<id>/, the folder model's <dir>/<id>/)
            raise IbenchError(f"{where}: key 'id': {iid!r} must be letters, digits, '.', '_' or '-' "
                              f"(it names a folder), at most 128 characters")
        if iid in seen:
            raise IbenchError(f"{where}: duplicate instance id {iid!r}")
        seen.add(iid)
        try:
            out.append(Instance(id=iid, task=spec.name, task_version=spec.version, family=spec.family,
                                instruction=instruction, checklist=row.get("checklist") or checklist(spec, instruction),
                                meta=row.get("meta") or {}))
        except ValidationError as exc:
            raise IbenchError(f"{where}: {describe(exc)}") from None
    if not out:
        raise IbenchError(f"{path}: no instances")
    return out
