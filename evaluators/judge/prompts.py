"""Prompt files and the messages built from them.

A prompt file (``prompts/<version>.yaml``, or your own file) holds the rubric (``system``), the answer
formats, one question per sub-score and the labels of the message parts; its sha256 is part of the
identity of every verdict. A message labels every reference by marker, kind and caption, apart from
the image(s) under judgement, and carries the instruction text.

Messages are backend-neutral: ``{"role", "content"}`` where content is a string or a list of parts
``{"type": "text", "text"}`` / ``{"type": "image", "path", "sha256"}``; each backend renders them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any, Callable, Literal, Optional

from ibench.core.instruction import Instruction
from ibench.core.paths import sha256_file
from ibench.errors import IbenchError

Answer = Literal["score", "winner"]
SCORE_QUESTIONS = ("sc", "naturalness", "artifacts")
PAIR_QUESTIONS = {"sc": "pairwise_sc", "pq": "pairwise_pq", "overall": "pairwise_overall"}
LABELS = ("instruction", "references", "reference", "no_references", "output", "first", "second")


@dataclass(frozen=True)
class PromptSet:
    version: str
    sha256: str
    system: str
    answers: dict[str, str]
    questions: dict[str, str]
    labels: dict[str, str]
    correction: str

    def label(self, name: str, **values: object) -> str:
        return Template(self.labels[name]).substitute(**{k: str(v) for k, v in values.items()}).strip()


def prompt_path(source: str) -> Path:
    path = Path(source).expanduser()
    if path.is_file():
        return path
    shipped = resources.files("ibench.evaluators.judge").joinpath("prompts").joinpath(f"{source}.yaml")
    if not shipped.is_file():
        raise IbenchError(f"judge prompts {source!r}: neither a file nor a shipped version (shipped: v1)")
    return Path(str(shipped))


def load_prompts(source: str = "v1") -> PromptSet:
    """A prompt set by shipped version or file path; a missing key is one line naming the file."""
    from ibench.core.yamlio import load_yaml

    path = prompt_path(source)
    data = load_yaml(path, what="a judge prompt file")
    want = {"version": str, "system": str, "answers": dict, "questions": dict, "labels": dict, "correction": str}
    for key, kind in want.items():
        if not isinstance(data.get(key), kind):
            raise IbenchError(f"{path}: key '{key}' is missing or not a {kind.__name__}")
    needed = {"answers": ("score", "winner"), "questions": (*SCORE_QUESTIONS, *PAIR_QUESTIONS.values()),
              "labels": LABELS}
    for section, keys in needed.items():
        missing = [k for k in keys if not isinstance(data[section].get(k), str)]
        if missing:
            raise IbenchError(f"{path}: key '{section}.{missing[0]}' is missing")
    return PromptSet(version=data["version"], sha256=sha256_file(path), system=data["system"].strip(),
                     answers=dict(data["answers"]), questions=dict(data["questions"]), labels=dict(data["labels"]),
                     correction=data["correction"])


@dataclass(frozen=True)
class Image:
    path: Path
    sha256: str

    def part(self) -> dict:
        return {"type": "image", "path": str(self.path), "sha256": self.sha256}


@dataclass(frozen=True)
class Query:
    """One question to the judge: its messages, the answer expected, and its cache key."""

    messages: list[dict]
    answer: Answer
    key: str
    question: str  # sc | naturalness | artifacts | pairwise_<aspect>
    condition: str = ""  # the condition text (SC) or aspect (pairwise)
    meta: dict = field(default_factory=dict, compare=False)  # where the answer goes (not part of the key)
    #: another reply format than ibench's (a benchmark's own, ``ibench.packs.protocol``): reply -> (value, problem);
    #: the value (a score or a list of sub-scores) is recorded as the verdict's ``score``
    parse: Optional[Callable[[str], tuple[Any, str]]] = field(default=None, compare=False)
    retry: Literal["correct", "repeat"] = "correct"  # re-ask an unreadable reply with a correction, or as it was
    seed: Optional[int] = None  # this question's sampling seed (None: the judge config's)

    @property
    def images(self) -> list[Image]:
        return [Image(Path(p["path"]), p["sha256"]) for m in self.messages if isinstance(m["content"], list)
                for p in m["content"] if p["type"] == "image"]


def verdict_key(judge_id: str, prompt_sha: str, messages: list[dict]) -> str:
    """(judge identity, prompt file hash, every text and image sha256 of the messages, in order)."""
    flat = [[m["role"], m["content"] if isinstance(m["content"], str) else
             [p.get("text") if p["type"] == "text" else f"image:{p['sha256']}" for p in m["content"]]]
            for m in messages]
    blob = json.dumps([judge_id, prompt_sha, flat], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class MessageBuilder:
    """Builds the questions of one judge (prompt set + identity + image limits)."""

    def __init__(self, prompts: PromptSet, judge_id: str, system_role: bool = True,
                 max_reference_images: Optional[int] = None):
        self.p, self.judge_id = prompts, judge_id
        self.system_role, self.max_refs = system_role, max_reference_images

    def _text(self, text: str) -> dict:
        return {"type": "text", "text": text.strip()}

    def _context(self, instruction: Instruction, references: dict[str, list[Image]]) -> list[dict]:
        parts = [self._text(f"{self.p.label('instruction')}\n{instruction.text}")]
        if not instruction.references:
            return parts + [self._text(self.p.label("no_references"))]
        parts.append(self._text(self.p.label("references")))
        for ref in instruction.references:
            images = references[ref.marker][: self.max_refs]
            kind = f"control ({ref.control} map)" if ref.control else ref.kind
            caption = f" ({ref.caption})" if ref.caption else ""
            parts.append(self._text(self.p.label("reference", marker=f"[{ref.marker}]", kind=kind, caption=caption,
                                                 count=len(images))))
            parts += [im.part() for im in images]
        return parts

    def _query(self, user: list[dict], answer: Answer, question: str, condition: str, meta: dict) -> Query:
        user = [*user, self._text(self.p.answers[answer])]
        if self.system_role:
            messages = [{"role": "system", "content": self.p.system}, {"role": "user", "content": user}]
        else:
            messages = [{"role": "user", "content": [self._text(self.p.system), *user]}]
        return Query(messages, answer, verdict_key(self.judge_id, self.p.sha256, messages), question, condition, meta)

    def sc(self, instruction: Instruction, references: dict[str, list[Image]], output: Image, condition: str,
           meta: Optional[dict] = None) -> Query:
        question = Template(self.p.questions["sc"]).substitute(condition=condition)
        user = [*self._context(instruction, references), self._text(self.p.label("output")), output.part(),
                self._text(question)]
        return self._query(user, "score", "sc", condition, meta or {})

    def pq(self, question: str, output: Image, meta: Optional[dict] = None) -> Query:
        """``naturalness`` or ``artifacts``: the generated image alone, as VIEScore's PQ."""
        user = [self._text(self.p.label("output")), output.part(), self._text(self.p.questions[question])]
        return self._query(user, "score", question, "", meta or {})

    def pair(self, instruction: Instruction, references: dict[str, list[Image]], first: Image, second: Image,
             aspect: str, meta: Optional[dict] = None) -> Query:
        user = [*self._context(instruction, references), self._text(self.p.label("first")), first.part(),
                self._text(self.p.label("second")), second.part(), self._text(self.p.questions[PAIR_QUESTIONS[aspect]])]
        return self._query(user, "winner", PAIR_QUESTIONS[aspect], aspect, meta or {})

    def correction(self, problem: str) -> str:
        return Template(self.p.correction).substitute(problem=problem).strip()
