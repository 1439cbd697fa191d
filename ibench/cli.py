"""The ``ibench`` command line. Each stage is its own command; ``run`` chains them."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Optional

import typer
import yaml

from .errors import IbenchError, one_line

app = typer.Typer(help="ibench: evaluate image generation from multi-modal instructions.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
list_app = typer.Typer(help="List what is registered.", no_args_is_help=True)
app.add_typer(list_app, name="list")

# Modules that add commands of their own stage: each has ``register(app)``.
COMMAND_MODULES = ["ibench.cli_data", "ibench.cli_score", "ibench.cli_report", "ibench.cli_human"]

TaskOpt = typer.Option(..., "--task", "-t", help="Task name (see `ibench list tasks`) or path to a task YAML.")
ModelOpt = typer.Option("tiny", "--model", "-m", help="Model name (see `ibench list models`) or module:Class.")
ModelArgOpt = typer.Option(None, "--model-arg", "-a", help="Model setting KEY=VALUE (repeatable).")
ModelConfigOpt = typer.Option(None, "--model-config", help="YAML file of model settings (CLI args override).")
DataOpt = typer.Option(None, "--data-dir", "-d", envvar="IBENCH_DATA_DIR",
                       help="Data root; `synthetic` for the built-in offline set. Default: the user cache dir.")
LimitOpt = typer.Option(None, "--limit", "-n", min=1, help="Use the first N instances (default: the task's count).")
SamplesOpt = typer.Option(None, "--samples", "-k", min=1, help="Samples per instance (default: the task's).")
SeedOpt = typer.Option(0, "--seed", help="Base seed: instances and per-sample seeds derive from it.")
OutOpt = typer.Option(Path("runs"), "--out", "-o", help="Folder that holds run directories.")
BatchOpt = typer.Option(1, "--batch-size", "-b", min=1, help="Requests per model call (does not change outputs).")
InstancesOpt = typer.Option(None, "--instances", help="JSONL of your own instructions instead of the task's drawn ones.")


def model_options(args: Optional[list[str]], config: Optional[Path]) -> dict:
    options: dict = {}
    if config is not None:
        from .taskspec import load_yaml

        options.update(load_yaml(config))
    for arg in args or []:
        key, sep, value = arg.partition("=")
        if not sep or not key:
            raise IbenchError(f"--model-arg {arg!r}: expected KEY=VALUE")
        options[key.strip()] = yaml.safe_load(value)
    return options


def load_model(name: str, args: Optional[list[str]] = None, config: Optional[Path] = None):
    from .models import get_model

    options = model_options(args, config)
    try:
        return get_model(name, **options)
    except TypeError as exc:
        raise IbenchError(f"model {name!r}: bad setting ({exc})") from None


def _generate(task: str, model: str, model_arg, model_config, data_dir, limit, samples, seed, out, batch_size,
              instances_file: Optional[Path] = None):
    from .instances import load_instances
    from .paths import resolve_data_root
    from .registry import get_task
    from .runner import generate

    spec = get_task(task)
    root = resolve_data_root(data_dir)
    given = load_instances(instances_file, spec, root) if instances_file else None
    adapter = load_model(model, model_arg, model_config)
    store, counts = generate(spec, adapter, root, out, limit=limit, samples=samples, seed=seed,
                             batch_size=batch_size, instances=given)
    from .distributed import is_main_process

    if not is_main_process():  # under torchrun/accelerate: rank 0 reports (and scores) for everyone
        raise typer.Exit(0)
    typer.echo(f"{store.path}: {counts['generated']} generated, {counts['failed']} failed, "
               f"{counts['skipped']} already done")
    return store, counts


@app.command()
def generate(task: str = TaskOpt, model: str = ModelOpt, model_arg: Optional[list[str]] = ModelArgOpt,
             model_config: Optional[Path] = ModelConfigOpt, data_dir: Optional[str] = DataOpt,
             limit: Optional[int] = LimitOpt, samples: Optional[int] = SamplesOpt, seed: int = SeedOpt,
             out: Path = OutOpt, batch_size: int = BatchOpt, instances_file: Optional[Path] = InstancesOpt) -> None:
    """Build instances and generate images (no scoring). Rerun the same command to resume."""
    _generate(task, model, model_arg, model_config, data_dir, limit, samples, seed, out, batch_size, instances_file)


@app.command()
def run(task: str = TaskOpt, model: str = ModelOpt, model_arg: Optional[list[str]] = ModelArgOpt,
        model_config: Optional[Path] = ModelConfigOpt, data_dir: Optional[str] = DataOpt,
        limit: Optional[int] = LimitOpt, samples: Optional[int] = SamplesOpt, seed: int = SeedOpt,
        out: Path = OutOpt, batch_size: int = BatchOpt, instances_file: Optional[Path] = InstancesOpt,
        score: bool = typer.Option(True, "--score/--no-score", help="Score the run after generating."),
        extractor_config: Optional[str] = typer.Option(
            None, "--extractor-config", help="Extractor weights for scoring: a YAML file, or `tiny` for the offline "
                                             "tiny random extractors (see docs/evaluators.md).")) -> None:
    """Build, generate and score in one go (resumable: rerun the same command)."""
    store, _ = _generate(task, model, model_arg, model_config, data_dir, limit, samples, seed, out, batch_size,
                         instances_file)
    if score:
        score_stage(store, extractor_config)


def score_stage(store, extractor_config: Optional[str] = None) -> None:
    """Score a run with its task's metrics."""
    from .cli_score import summary
    from .evaluators.score import score_run

    for line in summary(score_run(store.path, config=extractor_config, progress=True)):
        typer.echo(line)


@app.command()
def instances(task: str = TaskOpt, data_dir: Optional[str] = DataOpt, limit: Optional[int] = LimitOpt,
              seed: int = SeedOpt, out: Optional[Path] = typer.Option(None, "--out", "-o", help="JSONL file (default: stdout).")) -> None:
    """Export a task's instances as JSONL (to make images elsewhere for the `folder` model)."""
    import json

    from .instances import build_instances
    from .paths import resolve_data_root
    from .registry import get_task

    built = build_instances(get_task(task), resolve_data_root(data_dir), seed=seed, count=limit)
    lines = "".join(json.dumps(i.model_dump(mode="json"), sort_keys=True) + "\n" for i in built)
    if out is None:
        typer.echo(lines, nl=False)
    else:
        out.write_text(lines)
        typer.echo(f"wrote {len(built)} instances to {out}")


@app.command()
def validate(paths: Optional[list[Path]] = typer.Argument(None, help="Task YAML files (default: all registered)."),
             data_dir: Optional[str] = typer.Option(None, "--data-dir", "-d",
                                                   help="Also build each task's instances from this data root.")) -> None:
    """Validate task files (strictly), optionally building their instances."""
    from .registry import task_files
    from .taskspec import load_task

    files = [Path(p) for p in paths] if paths else list(task_files().values())
    failed = 0
    for path in files:
        try:
            spec = load_task(path)
            if data_dir:
                from .instances import build_instances
                from .paths import resolve_data_root

                build_instances(spec, resolve_data_root(data_dir))
            typer.echo(f"ok    {path}")
        except IbenchError as exc:
            failed += 1
            typer.echo(f"error {one_line(exc)}", err=True)
    if failed:
        raise typer.Exit(1)


@list_app.command("tasks")
def list_tasks() -> None:
    """Registered tasks with family, version and description."""
    from .registry import all_tasks

    for spec in sorted(all_tasks(), key=lambda s: (s.family, s.name)):
        typer.echo(f"{spec.name:24s} {spec.family:10s} v{spec.version}  {spec.description}")


@list_app.command("models")
def list_models() -> None:
    """Registered model adapters and the reference kinds they can use."""
    from .models import BUILTIN, load_class

    for name, target in BUILTIN.items():
        cls = load_class(target)
        caps = ", ".join(sorted(cls.capabilities)) or "text only"
        doc = (cls.__doc__ or sys.modules[cls.__module__].__doc__ or "").strip().splitlines()[0]
        typer.echo(f"{name:14s} [{caps}]\n{'':14s} {doc}")


for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point: user errors print one line and exit 2; nothing else is swallowed."""
    try:
        code = app(args=argv, standalone_mode=False)  # click returns Exit codes in this mode
        if isinstance(code, int) and code:
            sys.exit(code)
    except IbenchError as exc:
        typer.echo(f"error: {one_line(exc)}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted; rerun the same command to resume", err=True)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(1)
        raise


if __name__ == "__main__":
    main()
