"""The ``--pack`` parts of the commands: ``ibench list packs``, ``data fetch --pack``, ``run --pack``, and
``ibench score`` of a pack run (the benchmark's own judge protocol; docs/packs.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ibench.errors import IbenchError

from .output import print_json

PackOpt = typer.Option(None, "--pack", help="A benchmark pack's test set instead of --task: NAME or NAME:SUBSET "
                                            "(`ibench list packs`; fetch it first with `ibench data fetch --pack`).")


def list_packs(as_json: bool) -> None:
    """Every pack: the benchmarks (test set, anchor, revision, size, licence, judge) and the judge-data packs."""
    from ibench.packs.registry import entries

    rows = [e.row() for e in entries()]
    if as_json:
        print_json(rows)
        return
    for r in rows:
        typer.echo(f"{r['name']:16s} {r['kind']:10s} {r['title']}\n{'':27s} source {r['source']}; revision "
                   f"{r['revision']}\n{'':27s} size {r['size']}; licence {r['licence']}; judge {r['judge']}")


def fetch_benchmark(name: str, root: Path) -> str:
    """``data fetch --pack`` of a benchmark pack: one summary line."""
    from ibench.packs import get_pack
    from ibench.packs.fetch import fetch_pack

    done = fetch_pack(get_pack(name), root)
    if not done.downloaded:
        return f"{root}: pack {name}: already fetched at its pinned revision ({done.instances} instances)"
    skipped = f", {done.skipped} rows skipped (reasons in packs/{name}/skipped.jsonl)" if done.skipped else ""
    return (f"{root}: pack {name}: {done.instances} instances in {', '.join(p.name for p in done.files)}{skipped}; "
            f"next: ibench run --pack {name} --model MODEL")


def pack_tasks(value: str, data_dir: Optional[str]) -> tuple[list, dict, object]:
    """``--pack NAME[:SUBSET]`` -> (task specs, their instances by task name, the data root): every subset of a
    pack that has them when none is named, each its own task (and run)."""
    from ibench.data import resolve_data_root
    from ibench.packs import get_pack, tasks

    name, _, subset = value.partition(":")
    pack = get_pack(name)
    subsets = [subset] if subset else list(pack.subsets) or [None]
    root = resolve_data_root(data_dir)
    specs = [tasks.task_spec(pack, s or None) for s in subsets]
    found = {spec.name: tasks.read_instances(root.root, pack, s or None) for spec, s in zip(specs, subsets)}
    return specs, found, root


def is_pack_run(run: Path) -> bool:
    from ibench.core.rundir import RunStore

    return RunStore(run).manifest().identity.task.startswith("pack_")


def score_pack(run: Path, judge_config: Optional[str], max_calls: Optional[int]) -> None:
    """Score a pack run with the benchmark's protocol and print its headline per judge."""
    from ibench.packs.scoring import score_pack_run

    results = score_pack_run(run, judge_config, max_calls=max_calls)
    for line in summary(results):
        typer.echo(line)


def summary(results) -> list[str]:  # noqa: ANN001 - PackResults
    lines = [f"{results.run_id}: {results.title}{f' ({results.subset})' if results.subset else ''}, "
             f"{results.model}: {results.headline}"]
    for j in results.judges.values():
        v, cov = j.verdicts, j.coverage
        comparable = f"comparable with the published {', '.join(j.comparable_with)} rows" if j.comparable_with \
            else "not comparable with the published rows (another judge model)"
        lines.append(f"  {j.label}{' (the benchmark' + chr(39) + 's own judge)' if j.official else ''}: {comparable}")
        for name, e in j.headline.items():
            value = "n/a" if e.value is None else f"{e.value:.4f}"
            ci = "" if e.ci_low is None else f" [{e.ci_low:.4f}, {e.ci_high:.4f}]"
            lines.append(f"    {name:22s} {value}{ci}")
        fails = ", ".join(f"{k} {n}" for k, n in v.failures.items())
        lines.append(f"    verdicts {v.ok} ok, {v.failed} failed{': ' + fails if fails else ''}, {v.pending} not asked; "
                     f"{v.cached} cached, {v.calls} new calls" + (f"; {cov.text()}" if cov.text() else ""))
    return lines


def refuse_benchmark_in_meta(name: str) -> None:
    """``judge meta --pack`` takes judge-data packs: a benchmark's name is one line saying what to do."""
    from ibench.packs.registry import BENCHMARK, lookup

    try:
        entry = lookup(name)
    except IbenchError:
        return  # meta's own check names its packs
    if entry.kind == BENCHMARK:
        raise IbenchError(f"--pack {name} is a benchmark pack (generate with `ibench run --pack {name}`, judge with "
                          f"`ibench score RUN`); `ibench judge meta --pack` reads a judge-data pack: viescore "
                          f"(ImagenHub's rated images), genaibench, mmrb2-edit")
