"""``references``: an oracle that returns a reference image, the upper bound (DreamBench's real-images row)."""

from __future__ import annotations

from PIL import Image

from ibench.core.vocabulary import ALL_CAPABILITIES

from .base import ModelAdapter, Request
from .settings import AdapterSettings, Count

ORDER = ("subject", "content", "source", "scene", "style", "control")


class ReferencesModel(ModelAdapter):
    """Returns, for sample k, the k-th image (cycling) of the instruction's first reference by ORDER.

    For subject tasks this is a real photo of the subject, as in DreamBench's real-images row; for
    text-only tasks (no references) it has nothing to return, so the runner refuses them up front.
    """

    name = "references"
    capabilities = ALL_CAPABILITIES
    needs_references = True

    class Settings(AdapterSettings):
        size: Count = 512  # longest side of the returned image

    def generate(self, batch: list[Request]) -> list[Image.Image]:
        out = []
        for req in batch:
            refs = sorted(req.instance.instruction.references, key=lambda r: ORDER.index(r.kind) if r.kind in ORDER else len(ORDER))
            if not refs:
                raise ValueError(f"instance {req.instance.id} has no reference image to return")
            images = req.images(refs[0].marker)
            image = images[req.sample % len(images)]
            image.thumbnail((self.options["size"], self.options["size"]))
            out.append(image)
        return out
