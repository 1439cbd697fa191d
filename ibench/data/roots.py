"""Which data root a command uses: ``synthetic``, an explicit folder, or the default."""

from __future__ import annotations

from pathlib import Path

from ibench.core.paths import SYNTHETIC, DataRoot, default_data_dir
from ibench.errors import IbenchError


def resolve_data_root(data_dir: str | Path | None) -> DataRoot:
    """The data root for a command: ``synthetic``, an explicit folder, or the default."""
    if str(data_dir) == SYNTHETIC:
        from .synthetic import ensure_synthetic

        return DataRoot(ensure_synthetic())
    path = Path(data_dir).expanduser() if data_dir else default_data_dir()
    if not path.is_dir():
        raise IbenchError(
            f"data dir {path} does not exist: run `ibench data fetch --data-dir {path}` "
            f"(needs internet) or pass `--data-dir synthetic` for the built-in offline set"
        )
    return DataRoot(path)
