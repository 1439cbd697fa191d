"""Suites: which tasks and models one ``ibench run`` / ``generate`` covers.

``--task a,b`` (or repeated), ``--task all``, ``--family zero_shot`` (repeatable) and several
``--model`` values. Each model is loaded once and generates every task of the suite, then is
closed before its runs are scored; a task the model cannot do is skipped with a line saying why
(an error when it is the only task).
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import typer

from ibench.errors import IbenchError, one_line, unknown

ALL = "all"


def split_names(values: Optional[Sequence[str]]) -> list[str]:
    """``["a,b", "c"]`` -> ``["a", "b", "c"]`` (each once, in order)."""
    out = [v.strip() for value in values or [] for v in value.split(",") if v.strip()]
    return list(dict.fromkeys(out))


def select_tasks(tasks: Optional[Sequence[str]], families: Optional[Sequence[str]]):
    """Task specs of ``--task`` names/paths/``all`` and ``--family`` names, each once, in order."""
    from ibench.core.registry import all_tasks, get_task
    from ibench.core.vocabulary import TASK_FAMILIES

    names, fams = split_names(tasks), split_names(families)
    if not names and not fams:
        raise IbenchError("give --task NAME (a,b,... or `all`) or --family FAMILY (see `ibench list tasks`)")
    for f in fams:
        if f not in TASK_FAMILIES:
            raise unknown("task family", f, list(TASK_FAMILIES))
    registered = sorted(all_tasks(), key=lambda s: (list(TASK_FAMILIES).index(s.family)
                                                    if s.family in TASK_FAMILIES else 99, s.name))
    specs = []
    for name in names:
        specs.extend(registered if name == ALL else [get_task(name)])
    specs.extend(s for s in registered if s.family in fams)
    return list({s.name: s for s in specs}.values())


def run_suite(specs: list, models: Sequence[str], check: Callable, load: Callable, make: Callable,
              after_model: Callable) -> list:
    """For each model: refuse or skip the tasks it cannot do, load it once, ``make(spec, adapter)`` for
    every task, close it, then ``after_model(stores)``. Returns every store made."""
    made = []
    for model in models:
        todo = []
        for spec in specs:
            try:
                check(model, spec)
                todo.append(spec)
            except IbenchError as exc:
                if len(specs) == 1:
                    raise
                typer.echo(f"skip {spec.name} for {model}: {one_line(exc)}", err=True)
        if not todo:
            continue
        adapter = load(model)
        stores = []
        try:
            for spec in todo:
                stores.append(make(spec, adapter))
        finally:
            adapter.close()
        stores = [s for s in stores if s is not None]
        after_model(stores)
        made.extend(stores)
    if not made and len(specs) * len(models) > 1:
        raise IbenchError("no task of the suite can be run by the given model(s)")
    return made
