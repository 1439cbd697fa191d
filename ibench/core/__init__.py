"""The contracts every stage reads: instruction, task spec, instance, metric definitions, run manifest
and run-directory layout, plus paths and JSON/YAML I/O. No torch here: this imports in milliseconds."""

from .instance import Instance
from .instruction import Instruction, Reference
from .manifest import Identity, Manifest
from .metrics import METRICS, MetricDef, get_metric
from .paths import DataRoot, cache_dir
from .registry import all_tasks, get_task
from .rundir import Generation, RunLayout, RunStore
from .taskspec import TaskSpec, load_task
from .vocabulary import ALL_CAPABILITIES, CONTROL_TYPES, REFERENCE_KINDS, TASK_FAMILIES

__all__ = ["ALL_CAPABILITIES", "CONTROL_TYPES", "DataRoot", "Generation", "Identity", "Instance", "Instruction",
           "METRICS", "Manifest", "MetricDef", "REFERENCE_KINDS", "Reference", "RunLayout", "RunStore", "TASK_FAMILIES",
           "TaskSpec", "all_tasks", "cache_dir", "get_metric", "get_task", "load_task"]
