"""YAML read strictly: duplicate keys rejected, errors name the file (task files, configs)."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from ibench.errors import IbenchError, one_line


class _StrictLoader(yaml.SafeLoader):
    """A YAML loader that rejects duplicate keys."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (line {key_node.start_mark.line + 1})", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_yaml(path: Path, what: str = "a task file", empty_ok: bool = False) -> dict:
    """A YAML mapping (duplicate keys rejected); errors name the file. ``empty_ok``: an empty file is {}."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)  # noqa: S506 (safe loader subclass)
    except yaml.constructor.ConstructorError as exc:
        raise IbenchError(f"{path}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise IbenchError(f"{path}: invalid YAML: {one_line(exc)}") from None
    except UnicodeDecodeError as exc:
        raise IbenchError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise IbenchError(f"{path}: cannot read: {exc.strerror}") from None
    if data is None and empty_ok:
        return {}
    if not isinstance(data, dict):
        raise IbenchError(f"{path}: {what} must be a mapping of keys, not {type(data).__name__}")
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise IbenchError(f"{path}: key {bad[0]!r} is not a string (quote it)")
    return data


def describe(exc: ValidationError) -> str:
    """The first pydantic error as 'key.path: message'."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
    msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
    return f"key '{loc}': {msg}"
