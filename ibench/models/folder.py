"""``folder``: import images made elsewhere (closed or API models), matched by instance id and sample.

Naming scheme: ``<dir>/<instance_id>/<sample>.<png|jpg|jpeg|webp>`` (``ibench instances --task T``
exports the instance list to make them from). A missing or unreadable file fails only that sample.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from typing import Optional

from ibench.core.images import open_image
from ibench.core.vocabulary import ALL_CAPABILITIES
from ibench.errors import IbenchError

from .base import ModelAdapter, Request
from .settings import AdapterSettings

EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")


class FolderSettings(AdapterSettings):
    dir: Optional[str] = None  # <dir>/<instance_id>/<sample>.png
    label: Optional[str] = None  # the closed model's name (identifies the run; default: the folder's name)


class FolderModel(ModelAdapter):
    name = "folder"
    capabilities = ALL_CAPABILITIES
    Settings = FolderSettings
    max_batch = 1  # one file per call, so a missing file fails one sample only

    def __init__(self, **options):
        super().__init__(**options)  # unknown keys: one line
        dir, label = self.options["dir"], self.options["label"]
        if not dir:
            raise IbenchError("model 'folder' needs its folder: --model-arg dir=PATH")
        folder = Path(str(dir)).expanduser().resolve()
        if not folder.is_dir():
            what = "is a file, not a folder" if folder.exists() else "does not exist"
            raise IbenchError(f"model 'folder': dir {folder} {what} (expected <dir>/<instance_id>/<sample>.png)")
        # an explicit label (the closed model's name) identifies the run and the folder may move; without
        # one, the folder's path does too: two models' `.../out` folders must not share (and resume) one run
        self.options.update(dir=str(folder), label=label or folder.name)
        self.folder = folder
        self.labelled = bool(label)

    def settings(self) -> dict:
        if self.labelled:
            return {"label": self.options["label"]}
        return {"label": self.options["label"], "dir": self.options["dir"]}

    def find(self, instance_id: str, sample: int) -> Path:
        for ext in EXTENSIONS:
            path = self.folder / instance_id / f"{sample}{ext}"
            if path.is_file():
                return path
        raise FileNotFoundError(f"no image {instance_id}/{sample}.(png|jpg|jpeg|webp) in {self.folder}")

    def generate(self, batch: list[Request]) -> list[Image.Image]:
        return [open_image(self.find(req.instance.id, req.sample), what="imported image") for req in batch]
