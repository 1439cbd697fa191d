"""What a data root holds: DreamBench subjects and prompts, style images, content photos."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from importlib import resources

import yaml

from ibench.errors import IbenchError
from ibench.core.paths import DataRoot

LIVE_CLASSES = {"cat", "dog", "person"}  # DreamBench's live subjects (and people) use the live prompt list
CAPTIONS_FILE = "captions.yaml"  # a data root may ship its own (the synthetic set does)
EDITS_FILE = "edits.yaml"  # edit phrases of the editing tasks (packaged)
FACE_CLASS = "person"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
#: Folders of the photo pools, relative to the data root.
POOL_FOLDERS = {"styledrop": "styles/styledrop", "classic": "styles/classic", "content": "content", "faces": "faces"}
FACES_EMPTY = ("the faces pool is empty: no public-domain face set is pinned yet, so `ibench data fetch` brings none; "
               "put several photos of each identity in <root>/faces/<identity>/NN.jpg (see docs/data.md), or use "
               "`--data-dir synthetic`")
_PROMPT = re.compile(r"^'(.*)'\.format\(unique_token, class_token\),?$")


@dataclass(frozen=True)
class Subject:
    name: str
    cls: str
    images: tuple[str, ...]

    @property
    def live(self) -> bool:
        return self.cls in LIVE_CLASSES


@dataclass(frozen=True)
class Photo:
    """A style image or a content photo, with its caption."""

    image: str
    caption: str
    pool: str

    @property
    def name(self) -> str:
        return self.image.rsplit("/", 1)[-1].rsplit(".", 1)[0]


class Catalog:
    """Reads the data root's layout (the layout ``ibench data fetch`` writes)."""

    def __init__(self, root: DataRoot):
        self.root = root

    @cached_property
    def captions(self) -> dict[str, str]:
        own = self.root.root / CAPTIONS_FILE
        text = own.read_text() if own.is_file() else resources.files("ibench").joinpath("resources", CAPTIONS_FILE).read_text()
        return yaml.safe_load(text) or {}

    @cached_property
    def _prompts_file(self) -> list[str]:
        path = self.root.root / "dreambench" / "prompts_and_classes.txt"
        if not path.is_file():
            raise IbenchError(f"{path} is missing: the data root {self.root.root} holds no DreamBench data "
                              "(run `ibench data fetch` or use `--data-dir synthetic`)")
        return path.read_text().splitlines()

    @cached_property
    def subjects(self) -> list[Subject]:
        classes: dict[str, str] = {}
        for line in self._prompts_file:
            parts = line.strip().split(",")
            if len(parts) == 2 and parts[0] != "subject_name" and " " not in parts[0]:
                classes[parts[0]] = parts[1]
        out = []
        for name, cls in sorted(classes.items()):
            folder = self.root.root / "dreambench" / name
            images = tuple(sorted(f"dreambench/{name}/{p.name}" for p in folder.glob("*")
                                  if p.suffix.lower() in IMAGE_SUFFIXES))
            if images:
                out.append(Subject(name, cls, images))
        if not classes:
            raise IbenchError(f"{self.root.root / 'dreambench' / 'prompts_and_classes.txt'} lists no subject "
                              f"(`name,class` lines): the file is empty or not DreamBench's; run `ibench data fetch` "
                              f"again to restore it")
        if not out:
            raise IbenchError(f"no DreamBench subject images under {self.root.root / 'dreambench'}")
        return out

    @cached_property
    def prompts(self) -> dict[str, list[str]]:
        """DreamBench's prompt templates: ``object`` and ``live`` lists, ``{0}`` token, ``{1}`` class."""
        lists: dict[str, list[str]] = {"object": [], "live": []}
        current = None
        for line in self._prompts_file:
            if line.strip() == "Object Prompts":
                current = "object"
            elif line.strip() == "Live Subject Prompts":
                current = "live"
            elif current and (m := _PROMPT.match(line.strip())):
                lists[current].append(m.group(1))
        if not lists["object"] or not lists["live"]:
            raise IbenchError("dreambench/prompts_and_classes.txt: could not read the object and live prompt lists")
        return lists

    def subject_prompts(self, subject: Subject) -> list[str]:
        """Prompts for a subject with the unique token removed: 'a dog in the jungle'."""
        return [" ".join(t.format("", subject.cls).split()) for t in self.prompts["live" if subject.live else "object"]]

    @cached_property
    def scenes(self) -> list[str]:
        """Backgrounds from DreamBench's object prompts ('in the jungle', 'on the beach', ...)."""
        out = []
        for t in self.prompts["object"]:
            rest = t.split("{1}", 1)[1].strip()
            if t.startswith("a {0} {1} ") and rest.split(" ", 1)[0] in {"in", "on", "with", "floating"}:
                out.append(rest)
        return out

    @cached_property
    def faces(self) -> list[Subject]:
        """Identities of the faces pool (``faces/<identity>/NN.jpg``), each a subject of class ``person``."""
        out = []
        for folder in sorted(p for p in (self.root.root / "faces").glob("*") if p.is_dir()):
            images = tuple(sorted(f"faces/{folder.name}/{p.name}" for p in folder.iterdir()
                                  if p.suffix.lower() in IMAGE_SUFFIXES))
            if images:
                out.append(Subject(folder.name, FACE_CLASS, images))
        if not out:
            raise IbenchError(f"{self.root.root / 'faces'}: {FACES_EMPTY}")
        return out

    @cached_property
    def edits(self) -> dict[str, list[str]]:
        """Edit phrases: ``scene`` (appended to a content photo's caption) and ``object`` (``{cls}``: the masked
        object's class)."""
        data = yaml.safe_load(resources.files("ibench").joinpath("resources", EDITS_FILE).read_text()) or {}
        return {k: list(v) for k, v in data.items()}

    def photos(self, pool: str) -> list[Photo]:
        """Captioned images of a pool: ``styledrop``, ``classic``, ``content`` or ``faces``."""
        if pool == "faces":
            return [Photo(im, f"a photo of {s.name}", pool) for s in self.faces for im in s.images]
        folder = POOL_FOLDERS.get(pool)
        if folder is None:
            raise IbenchError(f"unknown image pool {pool!r}: use one of {', '.join(POOL_FOLDERS)}")
        found = sorted(p for p in (self.root.root / folder).glob("*") if p.is_file())
        out = []
        for p in found:
            rel = f"{folder}/{p.name}"
            if rel in self.captions:
                out.append(Photo(rel, self.captions[rel], pool))
            elif pool == "styledrop":  # StyleDrop references carry no caption of their own
                out.append(Photo(rel, "the reference image", pool))
        if not out:
            raise IbenchError(f"no images in pool {pool!r} under {self.root.root / folder}")
        return out
