"""``ibench doctor``: will ``ibench run`` with these options work here? Checked without generating anything.

One table: each weight (on the hub and downloadable with this token, or cached when offline), each
API model (the provider's own answer), the placement each model gets on this GPU, free disk against
the run's images and downloads, missing extras, and shutdowns. Exit 1 when anything blocks the run,
each blocker named in one line with what to do. ``ibench run`` does the local part (``preflight``).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

import typer

from ibench.core import deprecations
from ibench.errors import IbenchError, one_line

from .doctor_checks import Check, api_model_id, cheap, gated_without_token, hub, plan, provider
from .options import (DEFAULT_MODEL, BatchOpt, DataOpt, ExtractorConfigOpt, FamilyOpt, InstancesOpt, JudgeConfigOpt,
                      JudgeMaxCallsOpt, LimitOpt, ModelArgOpt, ModelConfigOpt, OutOpt, SamplesOpt, ScoreDeviceOpt, SeedOpt,
                      SuiteModelOpt, SuiteTaskOpt)
from .output import FormatOpt, JsonOpt, choose_format, print_json, print_rich, rich_table
from .suite import select_tasks, split_names

PNG_BYTES_PER_PIXEL = 1.5  # a generated RGB PNG, about half of the raw 3 bytes a pixel (estimate)


def preflight(models: list[str], model_arg, model_config, scoring: bool, judge_config: Optional[str]) -> None:  # noqa: ANN001
    """The local part of ``doctor``, for ``ibench run`` before it loads anything: warnings are printed,
    every blocker is named in one line (``IbenchError``)."""
    planned = plan(models, model_arg, model_config)
    rows = cheap(planned, scoring, judge_config) + gated_without_token(planned)
    for row in rows:
        if row.state == "warn":
            deprecations.warn_once(row.item, row.detail)
    blockers = list(dict.fromkeys(r.detail for r in rows if r.state == "blocker"))
    if blockers:
        raise IbenchError("; ".join(blockers))


def _free_gb(path: Path) -> float:
    path = path.expanduser().resolve()
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free / 1e9


def _side(options: dict) -> int:
    size = options.get("size") or 1024
    if isinstance(size, str):  # api: "1024x1024" or "2K"
        nums = [int(n) for n in size.lower().replace("k", "000").split("x") if n.isdigit()]
        return max(nums) if nums else 1024
    return int(size)


def disk(specs: list, planned: list, limit: Optional[int], samples: Optional[int], out: Path,
         downloads_gb: float) -> list[Check]:
    rows = []
    if specs:
        images = sum((limit or s.instances) * (samples or s.samples) for s in specs)
        need = sum(images * _side(p.options) ** 2 * PNG_BYTES_PER_PIXEL for p in planned) / 1e9
        free = _free_gb(out)
        state = "blocker" if need > free else ("warn" if need > 0.8 * free else "ok")
        rows.append(Check("disk", str(out), state, f"~{need:.2f} GB of images ({images} per model, estimate) and "
                                                   f"{free:.1f} GB free under {out}"))
    if downloads_gb:
        from huggingface_hub import constants

        free = _free_gb(Path(constants.HF_HUB_CACHE))
        state = "blocker" if downloads_gb > free else "ok"
        rows.append(Check("disk", constants.HF_HUB_CACHE, state, f"~{downloads_gb:.1f} GB of weights to download and "
                                                                 f"{free:.1f} GB free in the Hugging Face cache"))
    return rows


def collect(specs: list, models: list[str], model_arg, model_config, scoring: bool, judge_config: Optional[str],  # noqa: ANN001
            extractor_config: Optional[str], limit: Optional[int], samples: Optional[int], out: Path) -> list[Check]:
    """Every check of ``doctor`` (network included; nothing is generated or loaded)."""
    from ibench.models.catalog import lookup, weight_ids
    from ibench.weights import hub_unavailable

    planned = plan(models, model_arg, model_config)
    rows = cheap(planned, scoring, judge_config)
    downloads = 0.0
    for p in planned:
        if p.settings is None:
            continue
        for key, ident in weight_ids(p.cls, p.settings).items():
            check = hub(ident, f"{p.name} {key}")
            rows.append(check)
            entry = lookup(ident)
            if check.state == "ok" and "to download" in check.detail and entry is not None:
                downloads += (entry.download or entry.weights_gb()).gb
        model = api_model_id(p)
        if model:
            from ibench.models.api.providers import PROVIDERS

            o = p.options
            rows.append(provider(model, o["provider"], o.get("base_url"), o.get("api_key_env") or
                                 PROVIDERS[o["provider"]].key_env, f"model 'api' ({o['provider']})"))
    if judge_config is not None:
        rows += _judge_online(judge_config)
    if scoring and specs:
        rows += _scorer(specs, extractor_config, hub_unavailable())
    rows += _gpu(rows, planned)
    rows += disk(specs, planned, limit, samples, out, downloads)
    if not any(r.kind == "shutdown" for r in rows):
        rows.append(Check("shutdown", "-", "ok",
                          f"no model here is in the shutdown table (checked {deprecations.CHECKED})"))
    return rows


def _judge_online(judge_config: str) -> list[Check]:
    from ibench.evaluators.judge.config import load_judge_config

    try:
        config = load_judge_config(judge_config)
    except IbenchError:
        return []  # cheap() reported it
    settings = config.settings
    if hasattr(settings, "base_url"):  # a backend that talks to an OpenAI-compatible server
        return [provider(config.model, "openai", settings.base_url, settings.api_key_env or "", f"judge {judge_config}")]
    return [hub(config.model, f"judge {judge_config}")]


def _scorer(specs: list, extractor_config: Optional[str], offline: Optional[str]) -> list[Check]:
    if not offline:
        return [Check("weights", "scorer", "ok", "the hub answers: the scorer's weights are fetched when scoring starts")]
    from ibench.evaluators.score import check_weights
    from ibench.weights import MissingWeights, gather

    try:
        gather([lambda s=s: check_weights(s, extractor_config) for s in specs])
    except MissingWeights as exc:
        return [Check("weights", "scorer", "blocker", one_line(exc) + " (--no-score generates without them)")]
    except IbenchError as exc:
        return [Check("weights", "scorer", "blocker", one_line(exc))]
    return [Check("weights", "scorer", "ok", "the scorer's weights are on this machine")]


def _gpu(rows: list[Check], planned: list) -> list[Check]:
    if any(r.kind == "gpu" for r in rows):
        return []
    from ibench.models.catalog import entries_for

    sized = [p for p in planned if p.settings is not None and entries_for(p.cls, p.settings)]
    if not sized:
        return []
    import torch

    if torch.cuda.is_available():
        return []
    names = ", ".join(p.name for p in sized)
    return [Check("gpu", "-", "warn", f"no CUDA GPU here: {names} would run on the CPU (very slow for the large "
                                      f"presets; placement is checked where a GPU is)")]


def doctor(task: Optional[list[str]] = SuiteTaskOpt, family: Optional[list[str]] = FamilyOpt,
           model: Optional[list[str]] = SuiteModelOpt, model_arg: Optional[list[str]] = ModelArgOpt,
           model_config: Optional[Path] = ModelConfigOpt, data_dir: Optional[str] = DataOpt,
           limit: Optional[int] = LimitOpt, samples: Optional[int] = SamplesOpt, seed: int = SeedOpt,
           out: Path = OutOpt, batch_size: int = BatchOpt, instances_file: Optional[Path] = InstancesOpt,
           score: bool = typer.Option(True, "--score/--no-score", help="Check the scorer too (as `ibench run`)."),
           extractor_config: Optional[str] = ExtractorConfigOpt,
           judge_config: Optional[str] = JudgeConfigOpt, judge_max_calls: Optional[int] = JudgeMaxCallsOpt,
           score_device: str = ScoreDeviceOpt, fmt: Optional[str] = FormatOpt, as_json: bool = JsonOpt) -> None:
    """Check that `ibench run` with the same options can run here, without generating anything: weights
    (hub, licence, cache), API models, GPU memory per placement, disk, extras, shutdowns. Exit 1 on a blocker."""
    specs = select_tasks(task, family) if task or family else []
    rows = collect(specs, split_names(model) or [DEFAULT_MODEL], model_arg, model_config, score, judge_config,
                   extractor_config, limit, samples, out)
    if data_dir is not None:
        from ibench.data import resolve_data_root

        try:
            resolve_data_root(data_dir)
        except IbenchError as exc:
            rows.insert(0, Check("data", data_dir, "blocker", one_line(exc)))
    form = choose_format(fmt, as_json)
    if form == "json":
        print_json([vars(r) for r in rows])
    elif form == "md":
        typer.echo("| check | item | state | detail |\n| --- | --- | --- | --- |")
        for r in rows:
            typer.echo(f"| {r.kind} | `{r.item}` | {r.state} | {r.detail} |")
    else:
        styles = {"ok": None, "warn": "yellow", "blocker": "bold red"}
        print_rich(rich_table("ibench doctor", ["check", "item", "state", "detail"],
                              [(r.kind, r.item, r.state, r.detail) for r in rows], styles=[styles[r.state] for r in rows]))
    blockers = [r for r in rows if r.state == "blocker"]
    for r in blockers:
        typer.echo(f"blocker: {r.detail}", err=True)
    if blockers:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(doctor)
