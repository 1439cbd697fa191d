"""``references``: an oracle that returns a reference image, the upper bound (DreamBench's real-images row)."""

from __future__ import annotations

from PIL import Image

from .base import ALL_CAPABILITIES, ModelAdapter, Request, check_settings

ORDER = ("subject", "content", "style", "control")


class ReferencesModel(ModelAdapter):
    """Returns, for sample k, the k-th image (cycling) of the instruction's first reference by ORDER.

    For subject tasks this is a real photo of the subject, as in DreamBench's real-images row; for
    text-only tasks (no references) it has nothing to return, so the runner refuses them up front.
    """

    name = "references"
    capabilities = ALL_CAPABILITIES
    needs_references = True

    def __init__(self, size: int = 512, **options):
        check_settings(self.name, {"size": size, **options}, {"size": 512}, extra=self.runtime_keys)
        super().__init__(size=int(size), **options)

    def generate(self, batch: list[Request]) -> list[Image.Image]:
        out = []
        for req in batch:
            refs = sorted(req.instance.instruction.references, key=lambda r: ORDER.index(r.kind))
            if not refs:
                raise ValueError(f"instance {req.instance.id} has no reference image to return")
            images = req.images(refs[0].marker)
            image = images[req.sample % len(images)]
            image.thumbnail((self.options["size"], self.options["size"]))
            out.append(image)
        return out
