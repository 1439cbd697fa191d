"""The task registry: shipped task YAMLs, then folders in ``IBENCH_TASKS_PATH``; did-you-mean on a miss."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from ibench.errors import unknown

from .taskspec import TaskSpec, load_task


def task_dirs() -> list[Path]:
    """Shipped tasks, then folders in ``IBENCH_TASKS_PATH`` (os.pathsep-separated)."""
    dirs = [Path(str(resources.files("ibench.tasks")))]
    extra = os.environ.get("IBENCH_TASKS_PATH", "")
    dirs += [Path(p) for p in extra.split(os.pathsep) if p]
    return dirs


def task_files() -> dict[str, Path]:
    files: dict[str, Path] = {}
    for d in task_dirs():
        for path in sorted(d.glob("*.yaml")):
            files[path.stem] = path
    return files


def get_task(name_or_path: str) -> TaskSpec:
    """A task by registered name or by a path to its YAML file."""
    if name_or_path.endswith((".yaml", ".yml")):
        return load_task(name_or_path)
    files = task_files()
    if name_or_path not in files:
        raise unknown("task", name_or_path, list(files))
    return load_task(files[name_or_path])


def all_tasks() -> list[TaskSpec]:
    return [load_task(p) for p in task_files().values()]
