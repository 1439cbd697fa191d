"""Benchmark packs: the field's benchmarks (DreamBench++, OmniContext, GEdit-Bench, ImagenHub) as ibench
instances, with each anchor's judge protocol and aggregation and its published rows (docs/packs.md).

``PACKS``/``get_pack`` name them; a pack's ``convert`` turns a downloaded test set (``hub.download``) into
instances, ``aggregate`` computes the anchor's table from verdict records, ``protocol`` rebuilds the
anchor's judge requests from its prompt files, fetched at a pinned commit (``anchor_files``).
"""

from .registry import PACKS, get_pack
from .spec import AnchorFile, HubDataset, Judge, Pack

__all__ = ["PACKS", "get_pack", "Pack", "AnchorFile", "HubDataset", "Judge"]
