"""``folder``: import images made elsewhere (closed or API models), matched by instance id and sample.

Naming scheme: ``<dir>/<instance_id>/<sample>.<png|jpg|jpeg|webp>`` (``ibench instances --task T``
exports the instance list to make them from). A missing or unreadable file fails only that sample.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from ..errors import IbenchError
from .base import ALL_CAPABILITIES, ModelAdapter, Request

EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")


class FolderModel(ModelAdapter):
    name = "folder"
    capabilities = ALL_CAPABILITIES
    max_batch = 1  # one file per call, so a missing file fails one sample only

    def __init__(self, dir: str | None = None, label: str | None = None, **options):
        if not dir:
            raise IbenchError("model 'folder' needs its folder: --model-arg dir=PATH")
        folder = Path(dir).expanduser().resolve()
        if not folder.is_dir():
            raise IbenchError(f"model 'folder': {folder} is not a folder")
        # the label (e.g. the closed model's name) identifies the run; the path does not change outputs
        super().__init__(dir=str(folder), label=label or folder.name, **options)
        self.folder = folder

    def settings(self) -> dict:
        return {"label": self.options["label"]}

    def find(self, instance_id: str, sample: int) -> Path:
        for ext in EXTENSIONS:
            path = self.folder / instance_id / f"{sample}{ext}"
            if path.is_file():
                return path
        raise FileNotFoundError(f"no image {instance_id}/{sample}.(png|jpg|jpeg|webp) in {self.folder}")

    def generate(self, batch: list[Request]) -> list[Image.Image]:
        out = []
        for req in batch:
            with Image.open(self.find(req.instance.id, req.sample)) as im:
                out.append(im.convert("RGB"))
        return out
