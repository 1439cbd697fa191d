"""The multi-modal instruction: text with ``[ref#k]`` markers and the references they name."""

from __future__ import annotations

import re
from typing import Callable, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ibench.errors import IbenchError

from .paths import DataRoot
from .vocabulary import CONTROL_TYPES, Control, Kind, capability

MARKER = re.compile(r"\[(ref#\d+)\]")
MARKER_NAME = re.compile(r"^ref#\d+$")


class Reference(BaseModel):
    """One reference: a subject, a style, a content image or a control map."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    marker: str
    kind: Kind
    control: Optional[Control] = None
    caption: str = ""
    images: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> "Reference":
        if not MARKER_NAME.match(self.marker):
            raise ValueError(f"marker {self.marker!r} must look like 'ref#1'")
        if (self.kind == "control") != (self.control is not None):
            raise ValueError(f"{self.marker}: `control:` ({'|'.join(CONTROL_TYPES)}) is required for kind control only")
        return self

    @property
    def capability(self) -> str:
        """What a model must support to use this reference: ``subject`` or ``control:edge``."""
        return capability(self.kind, self.control)


class Instruction(BaseModel):
    """Text referring to references by marker, plus the plain target prompt."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    references: list[Reference] = Field(default_factory=list)
    target_prompt: str

    @model_validator(mode="after")
    def _check_markers(self) -> "Instruction":
        defined = [r.marker for r in self.references]
        dupes = sorted({m for m in defined if defined.count(m) > 1})
        if dupes:
            raise ValueError(f"marker {dupes[0]} is defined more than once")
        used = set(MARKER.findall(self.text))
        undefined = sorted(used - set(defined))
        if undefined:
            raise ValueError(f"marker [{undefined[0]}] is used in the text but not defined")
        unused = [m for m in defined if m not in used]
        if unused:
            raise ValueError(f"reference {unused[0]} is defined but never used in the text")
        return self

    def reference(self, marker: str) -> Reference:
        for ref in self.references:
            if ref.marker == marker:
                return ref
        raise KeyError(marker)

    def of_kind(self, kind: str) -> list[Reference]:
        return [r for r in self.references if r.kind == kind]

    @property
    def capabilities(self) -> set[str]:
        """The reference capabilities a model needs to render this instruction."""
        return {r.capability for r in self.references}

    def render(self, placeholder: Callable[[Reference], str]) -> str:
        """The text with each ``[ref#k]`` replaced by ``placeholder(reference)``."""
        by_marker = {r.marker: r for r in self.references}
        return MARKER.sub(lambda m: placeholder(by_marker[m.group(1)]), self.text)

    def plain_text(self) -> str:
        """The text with markers replaced by the references' captions (for text-only models)."""
        return self.render(lambda r: r.caption or r.kind)

    def check_files(self, root: DataRoot) -> None:
        """Raise if any reference image is outside the root, missing, or does not decode."""
        for ref in self.references:
            for rel in ref.images:
                check_image(root.resolve(rel), rel)


def check_image(path, label: str) -> None:
    """Raise one line if the reference image is missing, too large or does not decode."""
    from .images import open_image

    open_image(path, what=f"reference image {label} at")
