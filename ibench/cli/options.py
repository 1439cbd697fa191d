"""Options shared by several commands, and loading a model from ``--model`` / ``--model-arg`` / ``--model-config``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
import yaml

from ibench.errors import IbenchError, one_line

DEFAULT_MODEL = "tiny"
TaskOpt = typer.Option(..., "--task", "-t", help="Task name (see `ibench list tasks`) or path to a task YAML.")
SuiteTaskOpt = typer.Option(None, "--task", "-t", help="Task name(s): a,b,... (or repeat the option), `all`, or a "
                                                      "task YAML path (see `ibench list tasks`).")
FamilyOpt = typer.Option(None, "--family", help="Every task of a family (in_domain, zero_shot); repeatable.")
SuiteModelOpt = typer.Option(None, "--model", "-m", help="Model name (see `ibench list models`) or module:Class; "
                                                        "repeatable or a,b. Default: tiny.")
ModelArgOpt = typer.Option(None, "--model-arg", "-a", help="Model setting KEY=VALUE (repeatable).")
ModelConfigOpt = typer.Option(None, "--model-config", help="YAML file of model settings, or the name of a packaged "
                                                            "one (`ibench list configs`); --model-arg overrides it.")
DataOpt = typer.Option(None, "--data-dir", "-d", envvar="IBENCH_DATA_DIR",
                       help="Data root; `synthetic` for the built-in offline set. Default: the user cache dir.")
LimitOpt = typer.Option(None, "--limit", "-n", min=1, help="Use the first N instances (default: the task's count).")
SamplesOpt = typer.Option(None, "--samples", "-k", min=1, help="Samples per instance (default: the task's).")
SeedOpt = typer.Option(0, "--seed", help="Base seed: instances and per-sample seeds derive from it.")
OutOpt = typer.Option(Path("runs"), "--out", "-o", help="Folder that holds run directories.")
BatchOpt = typer.Option(1, "--batch-size", "-b", min=1, help="Requests per model call; not part of the run id. The "
                        "tiny model's images are byte-identical at any batch size; batched diffusers pipelines may "
                        "differ by a few pixel levels (float summation order; benchmarks/bench_batch.py measures it).")
ScoreDeviceOpt = typer.Option("auto", "--score-device", help="auto (the best here: CUDA, MPS, else CPU), cpu, cuda, "
                              "cuda:N, mps: the torch device of the scorer only (a model's is its setting: -a device=...).")
#: the old name of --score-device on `ibench run`: still accepted, with a one-line warning
OldDeviceOpt = typer.Option(None, "--device", hidden=True)


def score_device(score_device: str, old: Optional[str]) -> str:
    """``--score-device``, or the deprecated ``--device`` it replaced (one warning line)."""
    if old is None:
        return score_device
    if score_device != "auto" and score_device != old:
        raise IbenchError(f"--device {old} and --score-device {score_device} disagree: give --score-device only")
    typer.echo("warning: --device moves only the scorer and is now called --score-device (the model's device is "
               "its setting: -a device=cuda:1)", err=True)
    return old
ExtractorConfigOpt = typer.Option(None, "--extractor-config", help="Extractor weights for scoring: a YAML file, or "
                                  "`tiny` for the offline tiny random extractors (see docs/evaluators.md).")
InstancesOpt = typer.Option(None, "--instances", help="JSONL of your own instructions instead of the task's drawn ones.")
JudgeConfigOpt = typer.Option(None, "--judge-config",
                              help="Judge for judge_* metrics: a YAML file or a preset (qwen2.5-vl-7b, vllm, gpt-6-luna); "
                                   "default $IBENCH_JUDGE_CONFIG, else qwen2.5-vl-7b. See docs/judge.md. A pack run: "
                                   "also `anchor`, the benchmark's own API judge (docs/packs.md).")
JudgeMaxCallsOpt = typer.Option(None, "--judge-max-calls", min=0,
                                help="Stop judging after N new judge calls (rerun to continue; cached verdicts are free).")


def kind_options(judge_config: Optional[str], judge_max_calls: Optional[int]) -> dict:
    """Per-kind scoring options from the CLI (``ScoreOptions.kinds``)."""
    return {"judge": {"config": judge_config, "max_calls": judge_max_calls}}


def packaged_configs() -> dict[str, Path]:
    """The model configs shipped with ibench (``configs/``, installed as ``ibench.configs``), by name."""
    from importlib import resources

    folder = resources.files("ibench.configs")
    return {p.name[:-len(".yaml")]: Path(str(p)) for p in folder.iterdir() if p.name.endswith(".yaml")}


def find_model_config(given: Path) -> Path:
    """A config file as given, else the packaged config it names (``sd15-composite``, or the README's
    ``configs/sd15-composite.yaml`` outside a clone)."""
    if given.exists():
        return given
    name = given.name[:-len(given.suffix)] if given.suffix in (".yaml", ".yml") else given.name
    known = packaged_configs()
    if given.parent in (Path("."), Path("configs")) and name in known:
        return known[name]
    from ibench.errors import unknown

    exc = unknown("model config", str(given), list(known))
    raise IbenchError(f"--model-config: no file {given}, and {exc} (or give a YAML file)")


def model_options(args: Optional[list[str]], config: Optional[Path]) -> dict:
    options: dict = {}
    if config is not None:
        from ibench.core.yamlio import load_yaml

        options.update(load_yaml(find_model_config(config), what="a model config", empty_ok=True))
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
    from ibench.models import get_model

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


def check_model_weights(cls, options: dict) -> None:
    """Look up (not load) the weights a built-in model's settings name: every missing one in one line."""
    from ibench.models.catalog import weight_ids
    from ibench.models.settings import parse_settings
    from ibench.weights import check_all

    settings = parse_settings(cls.name, cls.Settings, options)  # adapters without weights(): the catalog's
    check_all(cls.name, cls.weights(settings) or {k: (v, None) for k, v in weight_ids(cls, settings).items()})


def model_class(name: str):
    """The adapter class of a built-in model (None for ``module:Class``, which may widen its capabilities)."""
    from ibench.models import BUILTIN, load_class

    return load_class(BUILTIN[name]) if name in BUILTIN else None
