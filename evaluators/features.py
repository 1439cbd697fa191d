"""Fill the feature caches: decode each missing image once, in DataLoader workers, for every
extractor that lacks it; run the networks batch by batch in the main process; store and forget.

Memory stays flat in the number of images: only a batch of decoded tensors is alive at a time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from ibench.errors import IbenchError
from ibench.progress import progress as progress_bar

from .cache import FeatureCache
from .extractor import Extractor


class DecodeDataset(Dataset):
    """Items ``(sha, path, extractor names)`` -> ``(sha, {name: tensor}, error)``."""

    def __init__(self, items: list[tuple[str, Path, tuple[str, ...]]], transforms: Mapping[str, Callable]):
        self.items, self.transforms = items, dict(transforms)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        sha, path, names = self.items[i]
        try:
            with Image.open(path) as im:
                rgb = im.convert("RGB")
        except (OSError, SyntaxError, ValueError) as exc:
            return sha, {}, f"{path}: {type(exc).__name__}: {exc}"
        return sha, {n: self.transforms[n](rgb) for n in names}, None


def collate_by_extractor(batch):
    """Group a batch's tensors by extractor: ``{name: (shas, stacked tensor)}``, errors, batch size."""
    groups: dict[str, tuple[list[str], list[torch.Tensor]]] = {}
    errors = [err for _, _, err in batch if err]
    for sha, tensors, _ in batch:
        for name, t in tensors.items():
            shas, ts = groups.setdefault(name, ([], []))
            shas.append(sha)
            ts.append(t)
    return {n: (shas, torch.stack(ts)) for n, (shas, ts) in groups.items()}, errors, len(batch)


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)


def loader(dataset: Dataset, batch_size: int, num_workers: int, collate_fn) -> DataLoader:
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                      collate_fn=collate_fn, worker_init_fn=_worker_init if num_workers else None,
                      persistent_workers=False, prefetch_factor=2 if num_workers else None)


def ensure_image_features(needs: Mapping[str, Mapping[str, Path]], extractors: Mapping[str, Extractor],
                          caches: Mapping[str, FeatureCache], batch_size: int = 32, num_workers: int = 2,
                          progress: bool = False) -> dict[str, int]:
    """Compute and cache the missing features; ``needs[name]`` maps sha -> image path.

    Returns how many features were computed per extractor (0 everywhere on a warm cache).
    """
    todo: dict[str, list[str]] = {}
    paths: dict[str, Path] = {}
    for name, wanted in needs.items():
        for sha, path in wanted.items():
            paths.setdefault(sha, path)
        todo[name] = caches[name].missing(wanted)
    computed = {name: len(shas) for name, shas in todo.items()}
    if not any(todo.values()):
        return computed
    per_image: dict[str, list[str]] = {}
    for name, shas in todo.items():
        if shas:
            extractors[name].load()
        for sha in shas:
            per_image.setdefault(sha, []).append(name)
    items = [(sha, paths[sha], tuple(names)) for sha, names in per_image.items()]
    dataset = DecodeDataset(items, {n: extractors[n].transform for n in todo if todo[n]})
    bar = progress_bar(len(items), "features", "img", enabled=progress)
    for groups, errors, n in loader(dataset, batch_size, num_workers, collate_by_extractor):
        if errors:
            raise IbenchError(f"image does not decode: {errors[0]}")
        for name, (shas, batch) in groups.items():
            caches[name].put(shas, extractors[name].forward(batch))
        bar.update(n)
    bar.close()
    return computed


def ensure_text_features(texts: Mapping[str, str], extractor: Extractor, cache: FeatureCache,
                         batch_size: int = 64) -> int:
    """Cache text embeddings; ``texts`` maps key -> text."""
    missing = cache.missing(texts)
    for i in range(0, len(missing), batch_size):
        keys = missing[i:i + batch_size]
        cache.put(keys, extractor.forward([texts[k] for k in keys]))
    return len(missing)
