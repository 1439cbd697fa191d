"""Asking a judge: cache first, then the backend in chunks, retries on unreadable replies, a call budget.

A verdict record (one per question, also the cache's value) is::

    {status: ok | failed | pending, answer: score | winner, score: 0-10 or None, winner: "1"/"2"/"tie" or None,
     reasoning, reply, failure: None | parse | refusal | content_filter | timeout | rate_limited | http_<status> ...,
     detail, attempts, calls: [{prompt_tokens, completion_tokens, seconds}], probs, mass, served_model,
     fingerprint, judge}

``failed`` never carries a number. A query with its own reply format (``Query.parse``, a benchmark's judge
protocol) records the parsed value as ``score`` (a number or a list of sub-scores) and, with
``retry: repeat``, re-asks an unreadable reply as it was, with another seed, as the benchmark's code does. ``pending`` means the call budget (``max_calls``) ran out before the
question was asked; it is not a failure and a rerun asks it. Each chunk's finished verdicts are stored
before the next chunk starts, so an interrupted run loses at most one chunk of calls. A question with
more images than the backend takes (``Backend.max_images``) fails ``image_limit`` without a call.
The backend comes from the backend table (``backend.BACKENDS``); nothing here knows a backend by name.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable, Optional

from ibench.errors import IbenchError

from .backend import Reply, image_limit_detail, make_backend
from .cache import VerdictCache
from .config import JudgeConfig, identity_hash, load_judge_config
from .parse import parse_reply
from .prompts import MessageBuilder, Query, load_prompts

REPLY_CHARS = 2000  # of a reply kept in a verdict
CACHED_FAILURES = ("parse", "refusal", "content_filter")


class Budget:
    """At most ``limit`` backend calls (None: no limit)."""

    def __init__(self, limit: Optional[int] = None):
        self.limit, self.used = limit, 0

    def take(self, n: int) -> int:
        granted = n if self.limit is None else max(0, min(n, self.limit - self.used))
        self.used += granted
        return granted

    @property
    def exhausted(self) -> bool:
        return self.limit is not None and self.used >= self.limit


class Judge:
    """A configured judge: identity, prompts, backend, cache and call budget."""

    def __init__(self, config: "JudgeConfig | dict | str | None" = None, cache: Optional[VerdictCache] = None,
                 max_calls: Optional[int] = None):
        self.config = load_judge_config(config)
        self.prompts = load_prompts(self.config.prompts)
        self.backend = make_backend(self.config)  # finds weights or the key; loads nothing yet
        self.identity = {**self.config.identity(), **self.backend.identity(),
                         "prompts": {"version": self.prompts.version, "sha256": self.prompts.sha256}}
        self.id = identity_hash(self.identity)
        self.label = f"judge:{self.identity['model']}@{self.identity['revision'] or 'unpinned'}#{self.id[:8]}"
        self.builder = MessageBuilder(self.prompts, self.id, self.config.system_role, self.config.max_reference_images)
        self.cache = cache if cache is not None else VerdictCache()
        self.budget = Budget(max_calls)

    def record(self, verdicts: Iterable[dict] = ()) -> dict:
        """The judge's identity as results.json records it, with the models and system fingerprints the
        server said answered ``verdicts`` (API backends)."""
        verdicts = list(verdicts)
        return {"id": self.id, "label": self.label, "identity": self.identity,
                "served_models": sorted({v["served_model"] for v in verdicts if v.get("served_model")}),
                "fingerprints": sorted({v["fingerprint"] for v in verdicts if v.get("fingerprint")})}

    def ask(self, queries: list[Query], progress: bool = False) -> dict[str, dict]:
        """Verdict records by query key (cached, fresh, failed or pending)."""
        unique = {q.key: q for q in queries}
        out = {k: {**r, "cached": True} for k, r in self.cache.get(unique).items()}
        todo = [q for k, q in unique.items() if k not in out]
        limit = self.backend.max_images
        over = [q for q in todo if limit is not None and len(q.images) > limit]
        out.update({q.key: {**self._too_many_images(q, limit), "cached": False} for q in over})
        todo = [q for q in todo if q.key not in out]
        step = self.backend.chunk
        bar = None
        if progress and todo:
            from tqdm import tqdm

            bar = tqdm(total=len(todo), desc=f"judge {self.identity['model']}", unit="q")
        try:
            for start in range(0, len(todo), step):
                fresh = self._chunk(todo[start:start + step])
                self.cache.put(self.id, {k: r for k, r in fresh.items() if self._cacheable(r)})
                out.update({k: {**r, "cached": False} for k, r in fresh.items()})
                if bar is not None:
                    bar.update(len(fresh))
        finally:
            if bar is not None:
                bar.close()
        return out

    @staticmethod
    def _cacheable(record: dict) -> bool:
        return record["status"] == "ok" or (record["status"] == "failed" and record["failure"] in CACHED_FAILURES)

    def _chunk(self, queries: list[Query]) -> dict[str, dict]:
        done: dict[str, dict] = {}
        calls: dict[str, list[dict]] = {q.key: [] for q in queries}
        active = list(queries)
        for attempt in range(self.config.max_retries + 1):
            granted = self.budget.take(len(active))
            for q in active[granted:]:
                done[q.key] = self._pending(q, calls[q.key])
            active = active[:granted]
            if not active:
                break
            retry = []
            for q, reply in zip(active, self.backend.run(active)):
                calls[q.key].append(reply.usage())
                record, problem = self._interpret(q, reply, calls[q.key])
                if problem and attempt < self.config.max_retries:
                    retry.append(self._again(q, reply, problem))
                else:
                    done[q.key] = record
            active = retry
        return done

    def _again(self, q: Query, reply: Reply, problem: str) -> Query:
        """The question asked again after an unreadable reply: with a correction, or as it was (another seed)."""
        if q.retry == "repeat":
            return dataclasses.replace(q, seed=(self.config.seed if q.seed is None else q.seed) + 1000)
        messages = [*q.messages, {"role": "assistant", "content": reply.text or ""},
                    {"role": "user", "content": self.builder.correction(problem)}]
        return dataclasses.replace(q, messages=messages)

    def _base(self, q: Query, calls: list[dict]) -> dict:
        return {"answer": q.answer, "question": q.question, "score": None, "winner": None, "reasoning": "",
                "reply": None, "failure": None, "detail": "", "attempts": len(calls), "calls": list(calls),
                "probs": None, "mass": None, "served_model": None, "fingerprint": None, "judge": self.id}

    def _too_many_images(self, q: Query, limit: int) -> dict:
        return {**self._base(q, []), "status": "failed", "failure": "image_limit",
                "detail": image_limit_detail(limit, len(q.images))}

    def _pending(self, q: Query, calls: list[dict]) -> dict:
        return {**self._base(q, calls), "status": "pending", "detail": "call budget (--judge-max-calls) used up"}

    def _interpret(self, q: Query, r: Reply, calls: list[dict]) -> tuple[dict, str]:
        """(record, problem): a non-empty problem means the reply did not parse (worth asking again)."""
        rec = {**self._base(q, calls), "reply": (r.text or "")[:REPLY_CHARS] or None, "served_model": r.served_model,
               "fingerprint": r.fingerprint}
        if r.error:
            return {**rec, "status": "failed", "failure": r.error, "detail": r.detail}, ""
        if r.finish in ("content_filter", "refusal"):
            return {**rec, "status": "failed", "failure": r.finish, "detail": r.detail}, ""
        if q.parse is not None:
            if r.probs is not None:
                raise IbenchError("a question in a benchmark's own reply format needs judge mode generate, not logprob")
            value, problem = q.parse(r.text or "")
            if value is None:
                detail = problem + (" (reply cut at max_new_tokens)" if r.finish == "length" else "")
                return {**rec, "status": "failed", "failure": "parse", "detail": detail}, problem
            return {**rec, "status": "ok", "score": value}, ""
        if r.probs is not None:  # logprob mode: the expected score, or the most probable winner
            rec.update(status="ok", probs={k: round(v, 6) for k, v in r.probs.items()}, mass=r.mass)
            if q.answer == "score":
                rec["score"] = float(sum(int(c) * p for c, p in r.probs.items()))
            else:
                rec["winner"] = max(r.probs, key=lambda c: (r.probs[c], c == "tie"))
            return rec, ""
        parsed = parse_reply(r.text, q.answer)
        if parsed.value is None:
            detail = parsed.problem + (" (reply cut at max_new_tokens)" if r.finish == "length" else "")
            return {**rec, "status": "failed", "failure": "parse", "detail": detail}, parsed.problem
        rec.update(status="ok", reasoning=parsed.reasoning)
        rec["score" if q.answer == "score" else "winner"] = parsed.value if q.answer == "winner" else float(parsed.value)
        return rec, ""

    def close(self) -> None:
        self.backend.close()
        self.cache.close()
