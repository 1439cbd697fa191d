"""``ibench run``, ``generate``, ``instances`` and ``validate``: tasks to instances to images (and scores)."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Optional

import typer

from ibench.errors import IbenchError, one_line
from ibench.extras import require
from ibench.weights import MissingWeights, gather

from .options import (DEFAULT_MODEL, BatchOpt, DataOpt, ExtractorConfigOpt, FamilyOpt, InstancesOpt, JudgeConfigOpt, JudgeMaxCallsOpt,
                      LimitOpt, ModelArgOpt, ModelConfigOpt, OldDeviceOpt, OutOpt, SamplesOpt, ScoreDeviceOpt, SeedOpt,
                      SuiteModelOpt, SuiteTaskOpt, TaskOpt, check_model_weights, kind_options, load_model, model_class,
                      model_options, score_device)
from .packs import PackOpt
from .suite import run_suite, select_tasks, split_names


def _suite(tasks: Optional[list[str]], families: Optional[list[str]], models: Optional[list[str]],
           model_arg: Optional[list[str]], model_config: Optional[Path], data_dir: Optional[str], options: dict,
           instances_file: Optional[Path] = None, after_model=lambda stores: None, locks: Optional[ExitStack] = None,
           scoring: bool = False, extractor_config: Optional[str] = None, judge_config: Optional[str] = None,
           pack: Optional[str] = None) -> list:
    """Generate every task of the suite with every model (each loaded once); ``options`` are the
    ``GenerateOptions`` fields from the CLI. Returns the stores this process reported. ``pack``: a benchmark
    pack's fetched instances (one task per subset) instead of ``tasks``/``families``.

    Before anything loads, the local part of ``ibench doctor`` runs (unreleased or gated weights, shutdowns,
    extras, placement against the free GPU memory) and every model's weights (and with ``scoring`` the
    scorer's) are looked up: every missing one is named in one line. ``locks`` keeps each run's lock."""
    from ibench.data import load_instances, resolve_data_root
    from ibench.models.base import check_capabilities
    from ibench.run import GenerateOptions, generate
    from ibench.run.distributed import is_main_process

    models = split_names(models) or [DEFAULT_MODEL]
    if pack:
        if tasks or families or instances_file:
            raise IbenchError("--pack gives the tasks and their instances: drop --task, --family and --instances")
        from .packs import pack_tasks

        specs, given, root = pack_tasks(pack, data_dir)
    else:
        specs = select_tasks(tasks, families)
        if instances_file and len(specs) > 1:
            raise IbenchError("--instances gives the instructions of one task: name one --task")
        root = resolve_data_root(data_dir)
        given = {s.name: load_instances(instances_file, s, root) for s in specs} if instances_file else {}

    def check(model: str, spec) -> None:  # noqa: ANN001
        cls = model_class(model)
        if cls is None:  # module:Class may widen its capabilities: checked once it is built
            return
        mine = given.get(spec.name)
        needed = {c for i in mine for c in i.instruction.capabilities} if mine is not None else spec.capabilities
        text_only = any(not i.instruction.references for i in mine) if mine is not None else not spec.references
        check_capabilities(cls, needed, text_only, spec.name)  # before its weights load (minutes for a real model)

    from .doctor import preflight

    preflight([m for m in models if any(_can(check, m, s) for s in specs)], model_arg, model_config, scoring,
              judge_config)
    _check_weights(models, specs, check, model_arg, model_config, extractor_config if scoring else False)

    def make(spec, adapter):  # noqa: ANN001, ANN202
        store, counts = generate(spec, adapter, root, GenerateOptions(**options, instances=given.get(spec.name)),
                                 close=False, keep_lock=locks)
        if not is_main_process():  # under torchrun/accelerate: rank 0 reports (and scores) for everyone
            return None
        typer.echo(f"{store.path}: {counts['generated']} generated, {counts['failed']} failed, "
                   f"{counts['skipped']} already done")
        if counts["failed"] and not counts["generated"] and not counts["skipped"]:
            first = next((g.error for g in store.generations() if g.error), "")
            message = (f"{store.path}: all {counts['failed']} samples failed (first: {first[:300]}); the errors are "
                       f"recorded in {store.path.name}/generations.jsonl: fix the cause and rerun")
            if len(specs) * len(models) == 1:
                raise IbenchError(message)
            typer.echo(f"warning: {message}", err=True)
        return store

    return run_suite(specs, models, check, lambda m: load_model(m, model_arg, model_config), make, after_model)


def _can(check, model: str, spec) -> bool:  # noqa: ANN001
    try:
        check(model, spec)
        return True
    except IbenchError:
        return False


def _check_weights(models: list[str], specs: list, check, model_arg, model_config, extractor_config) -> None:  # noqa: ANN001
    """Look up (load nothing) the weights of every built-in model that has a task here, and the scorer's
    (``extractor_config`` not False): one ``MissingWeights`` line naming every missing one."""
    lookups, doable = [], {}  # doable: the tasks some model can do (the others are refused or skipped first)
    for model in models:
        cls = model_class(model)
        mine = []
        for spec in specs:
            try:
                check(model, spec)
                mine.append(spec)
            except IbenchError:
                pass
        doable.update((s.name, s) for s in mine)
        if cls is not None and mine:
            lookups.append(lambda cls=cls: check_model_weights(cls, model_options(model_arg, model_config)))
    if extractor_config is not False:
        from ibench.evaluators.score import check_weights

        lookups += [lambda spec=spec: check_weights(spec, extractor_config) for spec in doable.values()]
    try:
        gather(lookups)
    except MissingWeights as exc:
        from ibench.models.catalog import gated_hint

        hint = " (--no-score generates without the scorer's)" if extractor_config is not False else ""
        gated = [gated_hint(m.hub_id) for m in exc.items if m.hub_id and gated_hint(m.hub_id)]
        raise MissingWeights(exc.items, exc.reason, hint + "".join(f"; {g}" for g in gated)) from None


def generate(task: Optional[list[str]] = SuiteTaskOpt, family: Optional[list[str]] = FamilyOpt,
             model: Optional[list[str]] = SuiteModelOpt, model_arg: Optional[list[str]] = ModelArgOpt,
             model_config: Optional[Path] = ModelConfigOpt, data_dir: Optional[str] = DataOpt,
             limit: Optional[int] = LimitOpt, samples: Optional[int] = SamplesOpt, seed: int = SeedOpt,
             out: Path = OutOpt, batch_size: int = BatchOpt, instances_file: Optional[Path] = InstancesOpt,
             pack: Optional[str] = PackOpt) -> None:
    """Build instances and generate images (no scoring). Rerun the same command to resume."""
    _suite(task, family, model, model_arg, model_config, data_dir,
           dict(out=out, limit=limit, samples=samples, seed=seed, batch_size=batch_size), instances_file, pack=pack)


def run(task: Optional[list[str]] = SuiteTaskOpt, family: Optional[list[str]] = FamilyOpt,
        model: Optional[list[str]] = SuiteModelOpt, model_arg: Optional[list[str]] = ModelArgOpt,
        model_config: Optional[Path] = ModelConfigOpt, data_dir: Optional[str] = DataOpt,
        limit: Optional[int] = LimitOpt, samples: Optional[int] = SamplesOpt, seed: int = SeedOpt,
        out: Path = OutOpt, batch_size: int = BatchOpt, instances_file: Optional[Path] = InstancesOpt,
        score: bool = typer.Option(True, "--score/--no-score", help="Score the runs after generating."),
        extractor_config: Optional[str] = ExtractorConfigOpt,
        judge_config: Optional[str] = JudgeConfigOpt, judge_max_calls: Optional[int] = JudgeMaxCallsOpt,
        score_device_: str = ScoreDeviceOpt, device: Optional[str] = OldDeviceOpt,
        pack: Optional[str] = PackOpt) -> None:
    """Build, generate and score in one go (resumable: rerun the same command).

    Suites: --task a,b,... or --task all or --family zero_shot, and several --model values; each model
    is loaded once for all its tasks and closed before its runs are scored. --pack NAME[:SUBSET]: a
    benchmark's test set, scored with the benchmark's own judge protocol by --judge-config (`anchor`: its
    official API judge; default: ibench's default open judge)."""
    if score and pack:  # a retired or badly configured judge stops here, before any image is made
        from ibench.packs import get_pack
        from ibench.packs.judges import judge_config as pack_judge

        pack_judge(get_pack(pack.partition(":")[0]), judge_config)
    elif score:
        require("eval", "ibench run (scoring)", ", or pass --no-score to generate only")
    scorer_device = score_device(score_device_, device)

    def after_model(stores) -> None:  # noqa: ANN001
        for store in stores if score else []:
            try:
                if pack:
                    from .packs import score_pack

                    score_pack(store.path, judge_config, judge_max_calls)
                    continue
                score_stage(store, extractor_config, kind_options(judge_config, judge_max_calls), limit=limit,
                            samples=samples, device=scorer_device)
            except IbenchError as exc:
                how = "--judge-config anchor|PRESET|FILE" if pack else "--extractor-config FILE, or `tiny`"
                raise IbenchError(f"{exc} [scoring failed; the images are kept in {store.path}: score them later "
                                  f"with `ibench score {store.path}` ({how})]") from None

    with ExitStack() as held:  # each run's lock, from its generation through its scoring
        _suite(task, family, model, model_arg, model_config, data_dir,
               dict(out=out, limit=limit, samples=samples, seed=seed, batch_size=batch_size), instances_file,
               after_model, locks=held, scoring=score and not pack, extractor_config=extractor_config,
               judge_config=judge_config if score and not pack else None, pack=pack)


def score_stage(store, extractor_config: Optional[str] = None, options: Optional[dict] = None,
                limit: Optional[int] = None, samples: Optional[int] = None, device: str = "auto") -> None:
    """Score a run (the first ``limit`` instances x ``samples``; default all) with its task's metrics; print the summary."""
    from ibench.evaluators.options import ScoreOptions
    from ibench.evaluators.results import load_results
    from ibench.evaluators.score import score_run

    from .score import summary

    score_run(store.path, ScoreOptions(extractors=extractor_config, progress=True, kinds=options or {}, limit=limit,
                                       samples=samples, device=device))
    for line in summary(load_results(store.path)):
        typer.echo(line)


def instances(task: str = TaskOpt, data_dir: Optional[str] = DataOpt, limit: Optional[int] = LimitOpt,
              seed: int = SeedOpt,
              out: Optional[Path] = typer.Option(None, "--out", "-o", help="JSONL file (default: stdout).")) -> None:
    """Export a task's instances as JSONL (to make images elsewhere for the `folder` model)."""
    from ibench.core.jsonio import write_text_atomic
    from ibench.core.registry import get_task
    from ibench.data import build_instances, resolve_data_root

    built = build_instances(get_task(task), resolve_data_root(data_dir), seed=seed, count=limit)
    lines = "".join(json.dumps(i.model_dump(mode="json"), sort_keys=True) + "\n" for i in built)
    if out is None:
        typer.echo(lines, nl=False)
        return
    try:
        write_text_atomic(out, lines)
    except OSError as exc:
        raise IbenchError(f"--out {out}: cannot write ({exc.strerror or exc})") from None
    typer.echo(f"wrote {len(built)} instances to {out}")


def validate(paths: Optional[list[Path]] = typer.Argument(None, help="Task YAML files (default: all registered)."),
             data_dir: Optional[str] = typer.Option(None, "--data-dir", "-d",
                                                   help="Also build each task's instances from this data root.")) -> None:
    """Validate task files (strictly), optionally building their instances."""
    from ibench.core.registry import task_files
    from ibench.core.taskspec import load_task

    files = [Path(p) for p in paths] if paths else list(task_files().values())
    failed = 0
    for path in files:
        try:
            spec = load_task(path)
            if data_dir:
                from ibench.data import build_instances, resolve_data_root

                build_instances(spec, resolve_data_root(data_dir))
            typer.echo(f"ok    {path}")
        except IbenchError as exc:
            failed += 1
            typer.echo(f"error {one_line(exc)}", err=True)
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    for command in (run, generate, instances, validate):
        app.command()(command)
