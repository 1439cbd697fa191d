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

        options.update(load_yaml(config, what="a model config", empty_ok=True))
    for arg in args or []:
        key, sep, value = arg.partition("=")
        key = key.strip()
        if not sep or not key:
            raise IbenchError(f"--model-arg {arg!r}: expected KEY=VALUE")
        try:
            options[key] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise IbenchError(f"--model-arg {arg!r}: the value is not valid YAML ({one_line(exc)})") from None
    return options


def load_model(name: str, args: Optional[list[str]] = None, config: Optional[Path] = None):
    from .models import get_model

    options = model_options(args, config)
    try:
        return get_model(name, **options)
    except IbenchError:
        raise
    except (TypeError, ValueError) as exc:
        raise IbenchError(f"model {name!r}: bad setting ({type(exc).__name__}: {exc})") from None
    except Exception as exc:  # a user adapter (module:Class) failing to start is one line too
        if ":" not in name:
            raise
        raise IbenchError(f"model {name!r} failed to start: {type(exc).__name__}: {exc}") from None


def _precheck_capabilities(model: str, spec, given) -> None:
    """Refuse a task whose references a built-in model can never use, before its weights load.

    (Built-ins only: their class capabilities are the most an instance can have; a user adapter may
    widen its own in ``__init__``. The runner checks every model again on the built instances.)
    """
    from .models import BUILTIN, load_class

    if model not in BUILTIN:
        return
    cls = load_class(BUILTIN[model])
    needed = ({r.capability for i in given for r in i.instruction.references} if given is not None else
              {f"control:{r.control}" if r.kind == "control" else r.kind for r in spec.references})
    if cls.needs_references and given is None and not spec.references:
        from .runner import refuse_text_only

        raise refuse_text_only(model, spec.name)
    lacking = sorted(needed - cls.capabilities)
    if lacking:
        raise IbenchError(f"model {model!r} cannot use the {', '.join(lacking)} references that task {spec.name!r} "
                          f"needs (it supports: {', '.join(sorted(cls.capabilities)) or 'text only'})")


def _generate(task: str, model: str, model_arg, model_config, data_dir, limit, samples, seed, out, batch_size,
              instances_file: Optional[Path] = None):
    from .instances import load_instances
    from .paths import resolve_data_root
    from .registry import get_task
    from .runner import generate

    spec = get_task(task)
    root = resolve_data_root(data_dir)
    given = load_instances(instances_file, spec, root) if instances_file else None
    _precheck_capabilities(model, spec, given)  # before loading weights (minutes for a real model)
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
        try:
            out.write_text(lines)
        except OSError as exc:
            raise IbenchError(f"--out {out}: cannot write ({exc.strerror or exc})") from None
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
        if code == 130:  # typer turns Ctrl-C into Exit(130)
            typer.echo("interrupted; rerun the same command to resume", err=True)
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
    except Exception as exc:  # click usage errors (click's own classes, or typer's vendored copy)
        usage, abort = _click_classes()
        if isinstance(exc, usage):
            if type(exc).__name__ == "NoArgsIsHelpError":  # `ibench` / `ibench list` alone: show the help
                exc.show()
            else:
                ctx = getattr(exc, "ctx", None)
                hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
                typer.echo(f"error: {one_line(exc.format_message())}{hint}", err=True)
            sys.exit(exc.exit_code)
        if isinstance(exc, abort):
            sys.exit(1)
        raise


def _click_classes() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """ClickException and Abort classes: typer >= 0.20 vendors click as ``typer._click``."""
    usage: list[type] = []
    abort: list[type] = []
    for name in ("click.exceptions", "typer._click.exceptions", "typer.exceptions"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        usage += [c for c in (getattr(module, "ClickException", None),) if isinstance(c, type)]
        abort += [c for c in (getattr(module, "Abort", None),) if isinstance(c, type)]
    return tuple(usage), tuple(abort)


if __name__ == "__main__":
    main()
