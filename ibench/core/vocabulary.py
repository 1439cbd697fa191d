"""The one vocabulary of reference kinds, control types and model capabilities.

Everything else derives from these tables: the instruction's and task spec's validators, the CLI
choices (``--controls``), adapter capabilities, metric targets and control-map preparation. A new
reference kind or control type is one entry here (see docs/extending.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

#: Where references are drawn from in a data root (``pools:`` of a task's reference).
POOLS: dict[str, str] = {
    "subject": "DreamBench subjects (dreambench/<subject>/)",
    "same_subject": "a held-out photo of the instance's first subject (control maps of it)",
    "styledrop": "the StyleDrop style images (styles/styledrop/)",
    "classic": "public-domain paintings (styles/classic/)",
    "content": "content photos (content/)",
    "faces": "face photos, several of each identity (faces/<identity>/NN.jpg)",
    "same_source": "the instance's source image (control maps of it: the region an edit may change)",
}


@dataclass(frozen=True)
class KindInfo:
    """One reference kind: what it is, where it may be drawn from, its default caption."""

    description: str
    pools: tuple[str, ...]  # pools a reference of this kind may name
    default_pools: tuple[str, ...]  # drawn from when the task names none
    caption: str  # default caption template ({cls}, {caption}, {control})
    real_images: tuple[str, ...]  # data sets of real images it draws from (dreambench, styledrop, ...)


#: What a reference can be. A new kind is one entry here (and a ``Kind`` literal below).
REFERENCE_KINDS: dict[str, KindInfo] = {
    "subject": KindInfo("an object, animal or person to show (several photos of it)", ("faces",), (), "the {cls}",
                        ("dreambench",)),
    "style": KindInfo("an image whose style the output takes", ("styledrop", "classic"), ("styledrop", "classic"),
                      "the style of {caption}", ("styledrop", "classic")),
    "content": KindInfo("an image whose content the output keeps (style transfer)", ("content",), ("content",),
                        "{caption}", ("content",)),
    "control": KindInfo("a spatial map the output follows (its type in `control:`)",
                        ("content", "subject", "same_subject", "same_source"), ("content",), "the {control} map",
                        ("content", "dreambench")),
    "source": KindInfo("the image to edit: the output keeps what the instruction does not change",
                       ("content", "subject"), ("content",), "{caption}", ("content", "dreambench")),
    "scene": KindInfo("a place or background the output sets its subjects in (OmniContext's scene image)",
                      ("content",), ("content",), "{caption}", ("content",)),
}
#: Sets of real images in a data root that FID/KID can compare outputs with (a task's ``reference_set``).
REAL_IMAGE_SETS: dict[str, str] = {
    "dreambench": "every DreamBench subject photo (dreambench/<subject>/*)",
    "styledrop": "the StyleDrop style images (styles/styledrop/)",
    "classic": "public-domain paintings (styles/classic/)",
    "content": "content photos (content/)",
    "faces": "every face photo (faces/<identity>/*)",
}
#: The real-image set each pool draws from (``same_subject`` photos are DreamBench's; ``same_source`` maps
#: are of the source image, whose own pool says).
POOL_IMAGE_SETS: dict[str, str] = {"subject": "dreambench", "same_subject": "dreambench", "styledrop": "styledrop",
                                   "classic": "classic", "content": "content", "faces": "faces"}

#: Control map types: how each is made from a photo (``ibench data prepare``).
CONTROL_TYPES: dict[str, str] = {
    "edge": "Canny edges",
    "depth": "relative depth (a depth model)",
    "mask": "foreground mask (GrabCut)",
    "sketch": "line drawing (inverted, thresholded edges)",
}
#: The version of each control type's maker, where it is past 1: bumped when the maps it makes change, so the
#: new maps get new paths (``ibench.core.paths.derived_path``), new instance ids and new run ids, and a map
#: made by an older ibench (cached, or prepared into a data root) is never mixed with new ones.
#: edge 2: Canny at ControlNet's working resolution (shorter side 512), not at the photo's.
CONTROL_MAP_VERSIONS: dict[str, int] = {"edge": 2}
#: Control maps cheap enough to derive on demand while building instances (depth needs a model).
ON_DEMAND_CONTROLS: tuple[str, ...] = ("edge", "mask", "sketch")

#: Task families, in report order, with their titles.
TASK_FAMILIES: dict[str, str] = {"in_domain": "In-domain", "zero_shot": "Zero-shot", "editing": "Editing",
                                 "scaling": "Reference scaling"}

Kind = Literal["subject", "style", "content", "control", "source", "scene"]
Pool = Literal["subject", "same_subject", "styledrop", "classic", "content", "faces", "same_source"]
Control = Literal["edge", "depth", "mask", "sketch"]
Family = Literal["in_domain", "zero_shot", "editing", "scaling"]
RealImageSet = Literal["dreambench", "styledrop", "classic", "content", "faces"]
assert set(get_args(Kind)) == set(REFERENCE_KINDS) and set(get_args(Control)) == set(CONTROL_TYPES)
assert set(get_args(Pool)) == set(POOLS) and set(CONTROL_MAP_VERSIONS) <= set(CONTROL_TYPES)
assert set(get_args(Family)) == set(TASK_FAMILIES)
assert set(get_args(RealImageSet)) == set(REAL_IMAGE_SETS) >= set(POOL_IMAGE_SETS.values())
assert all(set(info.real_images) <= set(REAL_IMAGE_SETS) for info in REFERENCE_KINDS.values())


def capability(kind: str, control: str | None = None) -> str:
    """What a model must support to use a reference: ``subject`` or ``control:edge``."""
    return f"control:{control}" if kind == "control" else kind


#: Every capability a model can declare.
ALL_CAPABILITIES: frozenset[str] = frozenset(
    [capability(k) for k in REFERENCE_KINDS if k != "control"] + [capability("control", c) for c in CONTROL_TYPES])


def check_capability_names(declared: frozenset[str] | set[str], who: str) -> None:
    """Raise ``ValueError`` naming an unknown capability (a typo would silently refuse every task)."""
    bad = sorted(set(declared) - ALL_CAPABILITIES)
    if bad:
        raise ValueError(f"{who}: unknown capability {bad[0]!r} (known: {', '.join(sorted(ALL_CAPABILITIES))})")
