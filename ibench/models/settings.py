"""Adapter settings as pydantic models: unknown keys refused, each value checked by its own type.

An adapter declares ``Settings`` (a subclass of ``AdapterSettings``). Fields named in ``RUNTIME``
(device, batch size, offload, compile) change how fast, not what is drawn: they are left out of the
run id; every other field is in it (unset optional fields, ``None``, are left out).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Optional, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from ibench.errors import IbenchError


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a number, not a boolean")
    return value


#: A whole number >= 1 (steps, sizes, counts): no booleans, no fractions.
Count = Annotated[int, Field(ge=1, strict=True)]
#: A real number (scales, strengths): no booleans.
Number = Annotated[float, BeforeValidator(_no_bool)]
#: A scale, or per-layer/per-type scales (``{edge: 0.8}``; InstantStyle's ``{up: {block_0: [...]}}``).
Scale = Union[Number, dict[str, Any]]
Offload = Union[bool, str]


class AdapterSettings(BaseModel):
    """Settings every adapter accepts; subclasses add theirs (and may narrow these)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    RUNTIME: ClassVar[frozenset[str]] = frozenset({"device", "batch_size", "offload", "compile"})

    device: str = "auto"
    offload: Offload = False
    compile: bool = False

    OFFLOADS: ClassVar[tuple[str, ...]] = ("false", "none", "true", "model", "sequential")

    @field_validator("offload")
    @classmethod
    def _known_offload(cls, value: Offload) -> Offload:
        if not isinstance(value, bool) and str(value).lower() not in cls.OFFLOADS:
            raise ValueError(f"must be one of {', '.join(cls.OFFLOADS)}")
        return value

    def identity(self) -> dict[str, Any]:
        """The output-affecting settings: part of the run id and the manifest."""
        return self.model_dump(mode="json", exclude=set(self.RUNTIME), exclude_none=True)


class DiffusersSettings(AdapterSettings):
    """Settings shared by the diffusers-backed adapters."""

    dtype: str = "auto"


class PlacementSettings(DiffusersSettings):
    """Adapters whose placement the catalog decides (``ibench.models.placement``): ``offload: auto``
    fits the GPU's free memory; ``quantize`` (8-bit/4-bit) changes the pictures, so it is in the run id."""

    OFFLOADS: ClassVar[tuple[str, ...]] = ("auto", *AdapterSettings.OFFLOADS)

    offload: Offload = "auto"
    quantize: Optional[Literal["8bit", "4bit"]] = None
    quant_backend: Optional[Literal["bitsandbytes", "torchao"]] = None  # None: bitsandbytes


def _bounds(cls: type[AdapterSettings], key: str) -> str:
    """A field's numeric range as text: ``>= 1``, ``in (0, 1]``, or '' when it has none."""
    field = cls.model_fields.get(key)
    found = {name: getattr(m, name) for m in (field.metadata if field else [])
             for name in ("ge", "gt", "le", "lt") if getattr(m, name, None) is not None}
    low = ("[", found["ge"]) if "ge" in found else ("(", found["gt"]) if "gt" in found else None
    high = ("]", found["le"]) if "le" in found else (")", found["lt"]) if "lt" in found else None
    if low and high:
        return f"in {low[0]}{low[1]:g}, {high[1]:g}{high[0]}"
    if low:
        return f"{'>=' if low[0] == '[' else '>'} {low[1]:g}"
    if high:
        return f"{'<=' if high[0] == ']' else '<'} {high[1]:g}"
    return ""


def _describe(model: str, cls: type[AdapterSettings], err: dict) -> str:
    key = str(err["loc"][0]) if err["loc"] else "(settings)"
    kind, given = err["type"], err.get("input")
    if kind == "extra_forbidden":
        return f"model {model!r}: unknown setting {key!r}"
    bounds = _bounds(cls, key)
    if kind.startswith("int_") or (kind in ("greater_than_equal", "greater_than") and isinstance(given, int)
                                   and cls.model_fields[key].annotation is int):
        what = f"must be a whole number {bounds}".rstrip()
    elif kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        what = f"must be {bounds}"
    elif kind.startswith("float_") or "expected a number" in err["msg"]:
        what = f"must be a number {bounds}".rstrip()
    elif kind == "multiple_of":
        what = f"must be a multiple of {err['ctx']['multiple_of']} {bounds}".rstrip()
    elif kind in ("dict_type", "model_type", "mapping_type"):
        what = "must be a mapping (KEY: VALUE)"
    else:
        what = err["msg"].removeprefix("Value error, ")
    return f"model {model!r}: setting {key!r} {what}, not {given!r}"


def parse_settings(model: str, cls: type[AdapterSettings], given: dict[str, Any]) -> AdapterSettings:
    """``cls(**given)``, or one line naming the model, the setting and what is wrong."""
    bad = [k for k in given if not isinstance(k, str)]
    if bad:
        raise IbenchError(f"model {model!r}: setting name {bad[0]!r} is not a string")
    try:
        return cls(**given)
    except ValidationError as exc:
        errors = exc.errors()
        unknown = [e for e in errors if e["type"] == "extra_forbidden"]
        if unknown:
            known = ", ".join(sorted(cls.model_fields))
            raise IbenchError(f"{_describe(model, cls, unknown[0])} (known: {known})") from None
        # a Union reports one error per branch: name the first, it is the plain type's
        raise IbenchError(_describe(model, cls, errors[0])) from None
