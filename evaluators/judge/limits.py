"""How many images a judge message carries, known before any call (for a server's per-message limit).

A server that takes fewer images per message than a question shows refuses it (vLLM: HTTP 400,
``--limit-mm-per-prompt``). ``max_images_per_message`` builds, with the judge's own ``MessageBuilder``
and prompt set, the largest message each task or instance leads to, so a server can be started with a
limit that fits (the vLLM recipe in docs/judge.md, ``ibench doctor``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Union

from ibench.core.instance import Instance
from ibench.core.instruction import Instruction, Reference
from ibench.core.taskspec import TaskSpec

from .config import load_judge_config
from .prompts import Image, MessageBuilder, load_prompts

if TYPE_CHECKING:
    from .config import JudgeConfig

_ANY = "0" * 64  # an image's sha256: the count does not depend on it


def widest_instruction(task: TaskSpec) -> Instruction:
    """A task's instruction with the most images a draw can give it: ``views`` per subject reference, one
    image for every other reference (ibench/data/draw.py draws at most ``views`` photos of a subject)."""
    refs = [Reference(marker=r.marker, kind=r.kind, control=r.control,
                      images=[f"{r.marker}/{k}" for k in range(r.views if r.kind == "subject" else 1)])
            for r in task.references]
    return Instruction(text=task.templates[0], references=refs, target_prompt="")


def max_images_per_message(items: Iterable[Union[TaskSpec, Instance, str]],
                           config: "JudgeConfig | dict | str | Path | None" = None, *, pairwise: bool = True) -> int:
    """The most images one judge message carries for ``items`` (task specs, task names or built instances).

    Messages are built as the judge builds them, with ``config``'s prompt set, ``system_role`` and
    ``max_reference_images`` (None: ``$IBENCH_JUDGE_CONFIG`` or the default preset): every reference image
    shown, plus the output (SC), or both outputs when ``pairwise`` (``ibench judge pairwise``); a PQ message
    shows the output alone. 0 for no items.
    """
    from ibench.core.registry import get_task

    cfg = load_judge_config(config)
    builder = MessageBuilder(load_prompts(cfg.prompts), "count", cfg.system_role, cfg.max_reference_images)
    output = Image(Path("output.png"), _ANY)
    most = 0
    for item in items:
        item = get_task(item) if isinstance(item, str) else item
        instruction = item.instruction if isinstance(item, Instance) else widest_instruction(item)
        refs = {r.marker: [Image(Path(p), _ANY) for p in r.images] for r in instruction.references}
        asked = [builder.sc(instruction, refs, output, "condition"), builder.pq("naturalness", output)]
        if pairwise:
            asked.append(builder.pair(instruction, refs, output, output, "sc"))
        most = max(most, *(len(q.images) for q in asked))
    return most
