"""``ibench data``: fetch the public sources, derive control maps, write the synthetic set."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ibench.core.vocabulary import CONTROL_TYPES, ON_DEMAND_CONTROLS

data_app = typer.Typer(help="Get and prepare benchmark data.", no_args_is_help=True)


@data_app.command()
def fetch(data_dir: Optional[Path] = typer.Option(None, "--data-dir", "-d", envvar="IBENCH_DATA_DIR",
                                                  help="Data root to fill (default: the user cache dir)."),
          only: Optional[str] = typer.Option(None, "--only", help="Fetch only files whose path starts with this "
                                                                  "(e.g. dreambench/dog, styles/, content/)."),
          base_url: Optional[str] = typer.Option(None, "--base-url", envvar="IBENCH_MIRROR",
                                                 help="Mirror to download from: each original URL's path (after "
                                                      "https://raw.githubusercontent.com/) is appended to it."),
          manifest: Optional[Path] = typer.Option(None, "--manifest", help="TSV of files to fetch "
                                                  "(default: the packaged list of public sources)."),
          pack: Optional[list[str]] = typer.Option(None, "--pack", help="Fetch a named pack instead (repeatable; "
                                                   "`ibench list packs`): a benchmark's test set (dreambench_plus, "
                                                   "omnicontext, gedit_bench, imagenhub: docs/packs.md) or released "
                                                   "ratings and verdicts (viescore, genaibench, mmrb2-edit: docs/judge.md)."),
          retries: int = typer.Option(3, "--retries", min=0, help="Resume attempts per file after a dropped connection.")) -> None:
    """Download the public sources (DreamBench, StyleDrop, paintings, content photos), or named packs (--pack): a
    benchmark's test set from the Hugging Face hub at its pinned revision, converted to instances, or the anchors'
    released ratings and judge outputs, verifying SHA-256.

    Rerunning the same command resumes interrupted downloads (HTTP Range) and skips verified files.
    """
    from ibench.data.fetch import fetch as run_fetch
    from ibench.core.paths import default_data_dir

    root = (data_dir or default_data_dir()).expanduser()
    if pack and manifest:
        from ibench.errors import IbenchError

        raise IbenchError("give --pack or --manifest, not both")
    if pack:
        from ibench.data.packs import get_pack
        from ibench.packs.registry import BENCHMARK, lookup

        kinds = {name: lookup(name).kind for name in pack}  # every name checked before anything downloads
        for name in [n for n in pack if kinds[n] == BENCHMARK]:
            from .packs import fetch_benchmark

            typer.echo(fetch_benchmark(name, root))
        manifests = [(get_pack(name).manifest(), f"pack {name}") for name in pack if kinds[name] != BENCHMARK]
    else:
        manifests = [(manifest, "")]
    for path, what in manifests:
        report = run_fetch(root, manifest=path, only=only, base_url=base_url, retries=retries)
        typer.echo(f"{root}: {what + ': ' if what else ''}{len(report.downloaded)} downloaded, "
                   f"{len(report.present)} already verified")


@data_app.command()
def synth(out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder to write (default: the cache dir's "
                                             "synthetic-v2, the root `--data-dir synthetic` uses)."),
          force: bool = typer.Option(False, "--force", help="Redraw even if the folder already exists.")) -> None:
    """Draw the small procedural data set (subjects, styles, content scenes): no network needed."""
    from ibench.data.synthetic import ensure_synthetic

    typer.echo(f"synthetic data root: {ensure_synthetic(out, force=force)}")


@data_app.command()
def prepare(data_dir: Optional[str] = typer.Option(None, "--data-dir", "-d", envvar="IBENCH_DATA_DIR",
                                                   help="Data root (default: the user cache dir)."),
            controls: str = typer.Option(",".join(CONTROL_TYPES), "--controls",
                                         help=f"Comma-separated control maps to derive: {', '.join(CONTROL_TYPES)}."),
            depth_model: Optional[str] = typer.Option(None, "--depth-model", envvar="IBENCH_DEPTH_MODEL",
                                                      help="Depth model: hub id or local folder (default Intel/dpt-hybrid-midas)."),
            device: str = typer.Option("auto", "--device", help="Device for the depth model: auto (CUDA, MPS, else "
                                                              "CPU), cpu, cuda, cuda:N, mps.")) -> None:
    """Derive control maps (Canny edges, GrabCut masks, sketches, depth) for content and DreamBench photos."""
    from ibench.core.paths import DataRoot
    from ibench.data.catalog import Catalog
    from ibench.data.controls import prepare as derive
    from ibench.data.roots import resolve_data_root
    from ibench.errors import IbenchError

    found = resolve_data_root(data_dir)
    root = DataRoot(found.root, derived_dir=found.prepared_dir)  # the one command that writes maps into a root
    wanted = [c.strip() for c in controls.split(",") if c.strip()]
    bad = [c for c in wanted if c not in CONTROL_TYPES]
    if bad:
        raise IbenchError(f"--controls: unknown control {bad[0]!r} (use {', '.join(CONTROL_TYPES)})")
    if "depth" in wanted:
        from ibench.devices import resolve_device

        device = resolve_device(device)
    catalog = Catalog(root)
    sources = [p.image for p in catalog.photos("content")] + [im for s in catalog.subjects for im in s.images]
    made = 0
    for control in wanted:
        try:
            made += derive(root, [control], sources, depth_model=depth_model, device=device)
        except IbenchError as exc:
            done = f"; the {made} maps made before it are kept" if made else ""
            skip = ",".join(c for c in wanted if c != control) or ",".join(ON_DEMAND_CONTROLS)
            raise IbenchError(f"{exc} [{control} maps not made{done}; `--controls {skip}` skips {control}]") from None
    typer.echo(f"{made} control maps written under {root.derived_dir} ({len(sources)} source images, "
              f"controls: {', '.join(wanted)})")


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
