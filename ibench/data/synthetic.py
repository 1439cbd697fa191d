"""A small procedural data root with the real layout, so every task builds offline.

``ensure_synthetic()`` draws (deterministically, from a fixed seed) DreamBench-like subjects
(``dreambench/<subject>/NN.jpg`` + ``prompts_and_classes.txt``), style images
(``styles/styledrop``, ``styles/classic``), content scenes (``content/``), procedural people
(``faces/<identity>/NN.jpg``) and a root
``captions.yaml``. It is written atomically into the cache dir and reused afterwards.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from PIL import Image

from ibench.errors import IbenchError
from ibench.core.paths import cache_dir
from .synthetic_draw import (CONTENT, CONTENT_SIZE, FACE_VIEWS, FACES, SIZE, SS, STYLES, SUBJECTS, face_view, far_to_near,
                             rng_for, scene, subject_view)

VERSION = 2  # 2: the faces pool
QUALITY = 90


# --------------------------------------------------------------------------- the data root
SHARED_SCENES = ["in the jungle", "in the snow", "on the beach", "on a cobblestone street", "on top of pink fabric",
                 "on top of a wooden floor", "with a city in the background", "with a mountain in the background",
                 "with a blue house in the background", "on top of a purple rug in a forest"]
OBJECT_PROMPTS = SHARED_SCENES + [  # DreamBench's 25 prompts per list: 20 here, then the 5 adjectives
    "with a wheat field in the background", "with a tree and autumn leaves in the background",
    "with the Eiffel Tower in the background", "floating on top of water", "floating in an ocean of milk",
    "on top of green grass with sunflowers around it", "on top of a mirror",
    "on top of the sidewalk in a crowded street", "on top of a dirt road", "on top of a white rug"]
LIVE_PROMPTS = SHARED_SCENES + [
    "wearing a red hat", "wearing a santa hat", "wearing a rainbow scarf", "wearing a black top hat and a monocle",
    "in a chef outfit", "in a firefighter outfit", "in a police outfit", "wearing pink glasses",
    "wearing a yellow shirt", "in a purple wizard outfit"]
ADJECTIVES = ["red", "purple", "shiny", "wet", "cube shaped"]


def prompts_file() -> str:
    """``prompts_and_classes.txt`` in DreamBench's own format."""
    def block(rest: list[str]) -> list[str]:
        items = [f"'a {{0}} {{1}} {r}'.format(unique_token, class_token)" for r in rest]
        items += [f"'a {a} {{0}} {{1}}'.format(unique_token, class_token)" for a in ADJECTIVES]
        return ["prompt_list = ["] + [i + "," for i in items[:-1]] + [items[-1], "]"]

    lines = ["Classes", "", "subject_name,class"] + [f"{n},{c}" for n, c, *_ in SUBJECTS]
    lines += ["", "Prompts", "", "Object Prompts", ""] + block(OBJECT_PROMPTS)
    lines += ["", "Live Subject Prompts", ""] + block(LIVE_PROMPTS)
    return "\n".join(lines) + "\n"


def _save(image: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="JPEG", quality=QUALITY)


def draw_all(folder: Path) -> None:
    """Write the whole synthetic data root into ``folder`` (an empty or new folder).

    Depth maps are drawn too (``derived/depth/...``: near = bright; a subject in front of a
    receding ground plane; a content scene as the ground plane alone), so depth tasks build
    without a depth model; edge, mask and sketch maps are made on demand as usual.
    """
    import yaml

    from ibench.data.controls import derived_path

    def save_depth(depth: Image.Image, rel: str) -> None:
        path = folder / derived_path("depth", rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        depth.save(path, format="PNG")

    for name, _cls, _fn, _c, views in SUBJECTS:
        for i in range(views):
            image, depth = subject_view(name, i)
            _save(image, folder / "dreambench" / name / f"{i:02d}.jpg")
            save_depth(depth, f"dreambench/{name}/{i:02d}.jpg")
    (folder / "dreambench" / "prompts_and_classes.txt").write_text(prompts_file())
    for name in FACES:
        for i in range(FACE_VIEWS):
            _save(face_view(name, i), folder / "faces" / name / f"{i:02d}.jpg")
    captions: dict[str, str] = {}
    for rel, (fn, caption) in STYLES.items():
        big = fn(rng_for(rel), SIZE * SS)
        _save(big.resize((SIZE, SIZE), Image.LANCZOS), folder / "styles" / rel)
        captions[f"styles/{rel}"] = caption
    w, h = CONTENT_SIZE
    for name, caption in CONTENT.items():
        big = scene(name, rng_for(f"content/{name}"), w * SS, h * SS)
        _save(big.resize((w, h), Image.LANCZOS), folder / "content" / f"{name}.jpg")
        save_depth(far_to_near(w, h), f"content/{name}.jpg")
        captions[f"content/{name}.jpg"] = caption
    (folder / "captions.yaml").write_text(
        f"# Synthetic ibench data (v{VERSION}): captions of content and style images.\n"
        + yaml.safe_dump(captions, sort_keys=True, allow_unicode=True))


def _is_synthetic(folder: Path) -> bool:
    captions = folder / "captions.yaml"
    return (folder / "dreambench" / "prompts_and_classes.txt").is_file() and captions.is_file() \
        and captions.read_text().startswith("# Synthetic ibench data")


def ensure_synthetic(folder: str | Path | None = None, force: bool = False) -> Path:
    """The synthetic data root (default ``<cache>/synthetic-v2``), drawn once and then reused.

    It is built in a temporary sibling folder and renamed into place, so a half-written
    root is never seen; with ``force`` an existing one is redrawn.
    """
    target = Path(folder).expanduser() if folder else cache_dir() / f"synthetic-v{VERSION}"
    if target.is_dir() and any(target.iterdir()):
        if not _is_synthetic(target):
            raise IbenchError(f"{target} exists and is not a synthetic data root: pick an empty or new folder")
        if not force:
            return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        tmp.chmod(0o755)
        draw_all(tmp)
        if target.exists():
            old = target.with_name(f".{target.name}.old.{os.getpid()}")
            os.replace(target, old)
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.replace(tmp, target)
        except OSError:  # another process renamed its copy first: use that one
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
