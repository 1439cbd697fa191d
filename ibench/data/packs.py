"""Named packs of public files: each a manifest ``resources/pack-<name>.tsv`` fetched by ``ibench data fetch
--pack NAME`` through ``ibench.data.fetch`` (pinned commits, SHA-256 verified, resumable) into
``<data root>/<name>/``. A new pack (a benchmark's files, say) is one manifest and one ``PACKS`` row.

Every pin was computed from the repository's files at the pinned commit (the file's bytes: SHA-256 and
size); the URLs name that commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ibench.errors import unknown


@dataclass(frozen=True)
class Pack:
    name: str
    about: str
    source: str  # repository@commit the files come from
    licence: str

    def manifest(self) -> Path:
        return Path(str(resources.files("ibench").joinpath("resources", f"pack-{self.name}.tsv")))


PACKS = {p.name: p for p in (
    Pack("viescore", "VIEScore's ImagenHub ratings (_human_annotations) and every released judge's per-image "
                     "scores (_answers, 17 settings and the traditional metrics)",
         "github.com/TIGER-AI-Lab/VIEScore@2cbea4e8ce5721425a8772590ecdbe7d2edd1721 paper_implementation/", "MIT"),
    Pack("genaibench", "GenAI-Bench's judge votes on GenAI-Arena's human votes (results/<task>/<judge>/pairwise.json) "
                       "and its leaderboard file",
         "github.com/TIGER-AI-Lab/GenAI-Bench@f0b0334d414074c6b1c97e2c60ad8d8a592bda9f", "MIT"),
    Pack("mmrb2-edit", "MMRB2's image-editing preference pairs with the experts' choice (edit_response_only.json)",
         "github.com/facebookresearch/MMRB2@7ff0552cf298441af5ebbabea634b682ef04afee benchmark/", "CC BY-NC 4.0"),
)}


def get_pack(name: str) -> Pack:
    if name not in PACKS:
        raise unknown("pack", name, list(PACKS))
    return PACKS[name]


def pack_dir(root: str | Path, name: str) -> Path:
    """Where a pack's files are under a data root."""
    return Path(root).expanduser() / name
