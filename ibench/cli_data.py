"""``ibench data``: fetch the public sources, derive control maps, write the synthetic set."""

from __future__ import annotations

from typing import Optional

import typer

data_app = typer.Typer(help="Get and prepare benchmark data.", no_args_is_help=True)


@data_app.command()
def prepare(data_dir: Optional[str] = typer.Option(None, "--data-dir", "-d", envvar="IBENCH_DATA_DIR",
                                                   help="Data root (default: the user cache dir)."),
            controls: str = typer.Option("edge,mask,sketch,depth", "--controls",
                                         help="Comma-separated control maps to derive: edge, mask, sketch, depth."),
            depth_model: Optional[str] = typer.Option(None, "--depth-model", envvar="IBENCH_DEPTH_MODEL",
                                                      help="Depth model: hub id or local folder (default Intel/dpt-hybrid-midas)."),
            device: str = typer.Option("cpu", "--device", help="Device for the depth model.")) -> None:
    """Derive control maps (Canny edges, GrabCut masks, sketches, depth) for content and DreamBench photos."""
    from .catalog import Catalog
    from .controls import prepare as derive
    from .errors import IbenchError
    from .paths import resolve_data_root

    root = resolve_data_root(data_dir)
    wanted = [c.strip() for c in controls.split(",") if c.strip()]
    bad = [c for c in wanted if c not in ("edge", "mask", "sketch", "depth")]
    if bad:
        raise IbenchError(f"--controls: unknown control {bad[0]!r} (use edge, mask, sketch, depth)")
    catalog = Catalog(root)
    sources = [p.image for p in catalog.photos("content")] + [im for s in catalog.subjects for im in s.images]
    made = derive(root, wanted, sources, depth_model=depth_model, device=device)
    typer.echo(f"{made} control maps written under {root.derived_dir} ({len(sources)} source images)")


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
