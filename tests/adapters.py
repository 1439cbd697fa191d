"""User adapters loaded by ``module:Class`` in tests."""

from PIL import Image

from ibench.models.base import AdapterSettings, ModelAdapter


class Flaky(ModelAdapter):
    """Fails for instances whose id ends in a chosen set of hex digits; grey images otherwise."""

    name = "flaky"
    capabilities = frozenset({"subject", "style", "control:edge"})

    class Settings(AdapterSettings):
        fail_suffixes: str = "0123"

    def generate(self, batch):
        for req in batch:
            if req.instance.id[-1] in self.options["fail_suffixes"]:
                raise RuntimeError(f"cannot draw {req.instance.id}")
        return [Image.new("RGB", (32, 32), (req.seed % 256, 0, 0)) for req in batch]


class TextOnly(ModelAdapter):
    name = "text-only"

    def generate(self, batch):
        return [Image.new("RGB", (8, 8)) for _ in batch]
