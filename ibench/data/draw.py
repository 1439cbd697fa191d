"""How one instance of a task is drawn from a data root: references, target prompt and template.

Draws are deterministic for (task, seed); tasks of one scaling group draw from the group's seed, so
instance k of every task in the group has the same subjects, views, scene and paraphrase.
"""

from __future__ import annotations

import random
from typing import Any, Optional

from ibench.core.instruction import Instruction, Reference
from ibench.core.taskspec import EDIT_PROMPTS, ReferenceSpec, TaskSpec
from ibench.core.vocabulary import REFERENCE_KINDS
from ibench.errors import IbenchError

from .catalog import Catalog, Photo, Subject
from .controls import ensure_control

#: (instruction, meta, keys): ``keys`` are what makes the draw distinct (duplicates are drawn again).
Draw = tuple[Instruction, dict[str, Any], Optional[list]]
#: An edit mask must cover at least this share of its source (GrabCut finds nothing on a few photos).
MIN_EDIT_MASK = 0.02


def mask_share(root, rel: str) -> float:
    """The share of a mask's pixels that are foreground (white)."""
    import numpy as np
    from PIL import Image

    with Image.open(root.resolve(rel)) as im:
        return float((np.asarray(im.convert("L")) > 127).mean())


class Cycle:
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


class Drawer:
    def __init__(self, spec: TaskSpec, catalog: Catalog, seed: int):
        self.spec, self.catalog = spec, catalog
        key = f"ibench:group:{spec.scaling.group}:{seed}" if spec.scaling else f"ibench:{spec.name}:{seed}"
        self.rng = random.Random(key)
        self.subjects = Cycle(catalog.subjects, self.rng)
        self.cycles: dict[str, Cycle] = {}

    def pool(self, ref: ReferenceSpec) -> Cycle:
        pools = [p for p in ref.pools if p not in ("same_subject", "same_source")]
        pools = pools or list(REFERENCE_KINDS[ref.kind].default_pools)
        key = ",".join(pools)
        if key not in self.cycles:
            items: list = []
            for pool in pools:
                items += self.catalog.subjects if pool == "subject" else self.catalog.photos(pool)
            self.cycles[key] = Cycle(items, self.rng)
        return self.cycles[key]

    def people(self) -> Cycle:
        if "faces" not in self.cycles:
            self.cycles["faces"] = Cycle(self.catalog.faces, self.rng)
        return self.cycles["faces"]

    def draw(self) -> Optional[Draw]:
        """One instance's draw, or None when it is unusable (an edit mask that covers almost nothing)."""
        if self.spec.scaling:
            return self._draw_group()
        rng, refs, meta = self.rng, [], {"subjects": [], "classes": []}
        subjects: list[Subject] = []
        held_out: dict[str, str] = {}
        photo: Photo | None = None
        control_subject: Subject | None = None
        source: tuple[str, Photo | Subject] | None = None  # (image, where it came from)
        for rs in self.spec.references:
            taken = tuple(subjects) + ((source[1],) if source else ())
            if rs.kind == "subject":
                s = (self.people() if "faces" in rs.pools else self.subjects).next(exclude=taken)
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
                image, caption = held_out[subjects[0].name], ""
            elif rs.kind == "control" and "same_source" in rs.pools and source:
                image, caption = source[0], ""
            else:
                item = self.pool(rs).next(exclude=taken)
                if isinstance(item, Subject):
                    image, caption = rng.choice(item.images), f"the photo of the {item.cls}"
                    if rs.kind == "control":
                        control_subject, caption = item, ""
                else:
                    image, caption = item.image, item.caption
                    photo = photo or (item if item.pool == "content" else None)
                if rs.kind == "source":
                    source = (image, item)
                    meta["source_class"] = item.cls if isinstance(item, Subject) else ""
            meta.setdefault(f"{rs.kind}_source", image)
            path = ensure_control(self.catalog.root, rs.control, image) if rs.kind == "control" else image
            if rs.control == "mask" and "same_source" in rs.pools and mask_share(self.catalog.root, path) < MIN_EDIT_MASK:
                return None
            refs.append(self._ref(rs, [path], caption=caption, cls=getattr(source[1] if source else None, "cls", "")))
        if control_subject is not None:
            meta["classes"].append(control_subject.cls)
        if source is not None and self.spec.prompts in EDIT_PROMPTS:
            prompt = self._edit_prompt(source[1], subjects, meta)
        else:
            prompt = self._prompt(subjects or ([control_subject] if control_subject else []), photo, meta)
        text = rng.choice(self.spec.templates).replace("{prompt}", prompt)
        return Instruction(text=text, references=refs, target_prompt=prompt), meta, None

    def _draw_group(self) -> Draw:
        """A scaling group's draw: always ``max_references`` subjects (each a full permutation of its photos),
        a scene and a paraphrase index, so every task of the group consumes the generator alike; this task
        keeps the first N. ``keys`` name every prefix, so all tasks of the group skip the same draws."""
        rng, spec = self.rng, self.spec
        picked: list[Subject] = []
        for _ in range(spec.scaling.max_references):
            picked.append(self.subjects.next(exclude=tuple(picked)))
        orders = [rng.sample(list(s.images), len(s.images)) for s in picked]
        scene = rng.choice(self.catalog.scenes)
        which = int(rng.random() * len(spec.templates))
        chosen = []
        for rs, s, order in zip(spec.references, picked, orders):
            chosen.append(sorted(order[:min(rs.views, max(1, len(s.images) - 1))]))
        keys = [(tuple((s.name, tuple(sorted(o[:min(spec.references[0].views, max(1, len(s.images) - 1))])))
                       for s, o in zip(picked[:k], orders[:k])), scene, which)
                for k in range(1, spec.scaling.max_references + 1)]
        used = picked[:len(spec.references)]
        refs = [self._ref(rs, views, cls=s.cls) for rs, s, views in zip(spec.references, used, chosen)]
        names = [f"a {s.cls}" for s in used]
        prompt = f"{', '.join(names[:-1])} and {names[-1]} {scene}" if len(names) > 1 else f"{names[0]} {scene}"
        meta = {"subjects": [s.name for s in used], "classes": [s.cls for s in used], "scene": scene,
                "n_references": len(used)}
        text = spec.templates[which].replace("{prompt}", prompt)
        return Instruction(text=text, references=refs, target_prompt=prompt), meta, keys

    def _ref(self, rs: ReferenceSpec, images: list[str], **fields: str) -> Reference:
        fields["cls"] = fields.get("cls") or "subject"
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

    def _edit_prompt(self, source: Photo | Subject, subjects: list[Subject], meta: dict) -> str:
        """The caption of the edited image (the target prompt of an editing task)."""
        how = self.spec.prompts
        if how == "replace":
            meta["edit"] = f"replace the {source.cls} with the {subjects[0].cls}"
            return f"a photo of a {subjects[0].cls}"
        if how == "object_edit":
            edit = self.rng.choice(self.catalog.edits["object"]).format(cls=source.cls)
        elif isinstance(source, Subject):
            edit = self.rng.choice(self.catalog.subject_prompts(source))
        else:
            edit = f"{source.caption} {self.rng.choice(self.catalog.edits['scene'])}"
        meta["edit"] = edit
        return edit
