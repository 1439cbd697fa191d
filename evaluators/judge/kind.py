"""Metric kind ``judge``: VIEScore-style SC, PQ and O from a VLM judge (``judge_sc``, ``judge_pq``, ``judge_o``).

- SC is asked once per condition of the instance's human checklist (what raters see), each condition
  keyed ``checklist:<k>`` (1-based position in the task's checklist, the order in which ratings store
  their condition values); the sample's SC is the minimum over its conditions.
- PQ asks naturalness and artifacts about the output alone; PQ = min of the two.
- O = sqrt(SC * PQ) per sample. Raw sub-scores are 0-10; rows hold them divided by 10.

A sample gets rows only when every verdict it needs succeeded: a failed or pending verdict leaves the
sample without a value, never with a number. Every verdict, failed ones with their reason, is written to
``judge/<sc|pq>.jsonl`` in the run dir; counts and rates go to results.json through ``details``.
"""

from __future__ import annotations

import math
from collections import Counter

from ibench.core.instance import Instance
from ibench.core.jsonio import write_jsonl_atomic
from ibench.core.metrics import MetricDef
from ibench.core.rundir import RunLayout
from ibench.errors import IbenchError

from ..kinds import KindOutput, MetricKind, ScoringContext
from .prompts import Image, Query

ROLES = ("sc", "pq", "o")
PQ_PARTS = ("naturalness", "artifacts")
NO_CHECKLIST = "The image follows the instruction"  # what the rating app shows for an empty checklist


def condition_key(k: int) -> str:
    """The condition of the ``k``-th (1-based) checklist item."""
    return f"checklist:{k}"


def reference_images(ctx: ScoringContext, inst: Instance) -> dict[str, list[Image]]:
    return {r.marker: [Image(p, ctx.hasher(p)) for p in map(ctx.root.resolve, r.images)]
            for r in inst.instruction.references}


class JudgeKind(MetricKind):
    def check(self, metric: MetricDef) -> None:
        if metric.params.get("judge") not in ROLES:
            raise IbenchError(f"metric {metric.name!r}: kind 'judge' needs params.judge in {', '.join(ROLES)}")

    def extractors(self, metrics: list[MetricDef]) -> set[str]:
        return set()

    def score(self, ctx: ScoringContext, metrics: list[MetricDef]) -> KindOutput:
        from .engine import Judge

        roles = {m.params["judge"] for m in metrics}
        asks = {"sc"} & roles | ({"sc", "pq"} if "o" in roles else set()) | ({"pq"} & roles)
        if not ctx.ok:
            return KindOutput(rows={m.name: [] for m in metrics})
        options = ctx.options.get("judge", {})
        judge = Judge(options.get("config"), max_calls=options.get("max_calls"))
        try:
            queries = self._queries(ctx, judge, asks)
            verdicts = judge.ask(queries, progress=ctx.progress)
        finally:
            judge.close()
        logged = self._log(ctx, queries, verdicts, asks)
        return self._output(ctx, metrics, logged, judge.record(logged), judge.budget.exhausted)

    def _queries(self, ctx: ScoringContext, judge, asks: set[str]) -> list[Query]:
        queries, refs = [], {}
        for g in ctx.ok:
            inst = ctx.instances[g.instance_id]
            if inst.id not in refs:
                refs[inst.id] = reference_images(ctx, inst)
            output = Image(ctx.store.path / g.image, g.sha256)
            where = {"instance_id": g.instance_id, "sample": g.sample}
            if "sc" in asks:
                for k, text in enumerate(inst.checklist or [NO_CHECKLIST], 1):
                    queries.append(judge.builder.sc(inst.instruction, refs[inst.id], output, text,
                                                    {**where, "condition": condition_key(k)}))
            if "pq" in asks:
                queries += [judge.builder.pq(part, output, {**where, "condition": part}) for part in PQ_PARTS]
        return queries

    def _log(self, ctx: ScoringContext, queries: list[Query], verdicts: dict[str, dict], asks: set[str]) -> list[dict]:
        """One record per question (where it belongs + its verdict), written to ``judge/<sc|pq>.jsonl``."""
        logged = [{**q.meta, "question": q.question, "condition_text": q.condition, "key": q.key,
                   **verdicts[q.key]} for q in queries]
        folder = ctx.store.path / RunLayout.JUDGE
        folder.mkdir(parents=True, exist_ok=True)
        for part in sorted(asks):
            write_jsonl_atomic(folder / f"{part}.jsonl",
                               [r for r in logged if (r["question"] == "sc") == (part == "sc")])
        return logged

    def _output(self, ctx: ScoringContext, metrics: list[MetricDef], logged: list[dict], judge: dict,
                stopped: bool) -> KindOutput:
        by_sample: dict[tuple[str, int], list[dict]] = {}
        for r in logged:
            by_sample.setdefault((r["instance_id"], r["sample"]), []).append(r)
        values: dict[str, dict] = {}  # (instance, sample) -> {sc: {cond: v}, pq: {part: v}}
        for key, recs in by_sample.items():
            for role, parts in (("sc", [r for r in recs if r["question"] == "sc"]),
                                ("pq", [r for r in recs if r["question"] in PQ_PARTS])):
                if parts and all(r["status"] == "ok" for r in parts):
                    values.setdefault(key, {})[role] = {r["condition"]: r["score"] / 10 for r in parts}
        out = KindOutput()
        for m in metrics:
            role = m.params["judge"]
            rows: list[dict] = []
            for (iid, sample), got in sorted(values.items()):
                base = {"instance_id": iid, "sample": sample, "metric": m.name}
                if role in ("sc", "pq") and role in got:
                    rows += [{**base, "condition": c, "value": v} for c, v in sorted(got[role].items())]
                elif role == "o" and "sc" in got and "pq" in got:
                    value = math.sqrt(min(got["sc"].values()) * min(got["pq"].values()))
                    rows.append({**base, "condition": "overall", "value": value})
            out.rows[m.name] = rows
            self._record_unscored(out, m.name, role, by_sample, {(r["instance_id"], r["sample"]) for r in rows})
            mine = [r for r in logged if role == "o" or (r["question"] == "sc") == (role == "sc")]
            out.details[m.name] = {"judge": judge, **self._counts(mine, rows, ctx, stopped)}
            if not rows:
                out.skipped[m.name] = self._why_empty(out.details[m.name])
        return out

    @staticmethod
    def _record_unscored(out: KindOutput, metric: str, role: str, by_sample: dict, scored: set) -> None:
        """Why each judged sample without a value has none (its coverage): the first failed verdict's kind
        (``judge: refusal``, ``judge: parse``, ...), else verdicts left unasked by the call budget."""
        for (iid, sample), recs in sorted(by_sample.items()):
            if (iid, sample) in scored:
                continue
            mine = [r for r in recs if role == "o" or (r["question"] == "sc") == (role == "sc")]
            failures = sorted(r["failure"] for r in mine if r["status"] == "failed")
            if failures:
                out.fail(metric, iid, sample, f"judge: {failures[0]}")
            elif any(r["status"] == "pending" for r in mine):
                out.not_asked(metric, iid, sample, "judge: not asked (--judge-max-calls)")

    @staticmethod
    def _counts(records: list[dict], rows: list[dict], ctx: ScoringContext, stopped: bool) -> dict:
        status = Counter(r["status"] for r in records)
        failures = Counter(r["failure"] for r in records if r["status"] == "failed")
        fresh = [c for r in records if not r.get("cached") for c in r["calls"]]
        judged = status["ok"] + status["failed"]
        samples: dict[tuple[str, int], set[str]] = {}
        for r in records:
            samples.setdefault((r["instance_id"], r["sample"]), set()).add(r["status"])
        scored = {(r["instance_id"], r["sample"]) for r in rows}
        details = {
            "verdicts": {"questions": len(records), "ok": status["ok"], "failed": status["failed"],
                         "pending": status["pending"], "failure_rate": status["failed"] / judged if judged else None,
                         "failures": dict(sorted(failures.items())), "cached": sum(bool(r.get("cached")) for r in records),
                         "calls": len(fresh), "prompt_tokens": sum(c["prompt_tokens"] for c in fresh),
                         "completion_tokens": sum(c["completion_tokens"] for c in fresh)},
            "samples": {"total": len(samples), "scored": len(scored),
                        "failed": sum("failed" in s for s in samples.values()),
                        "pending": sum("pending" in s and "failed" not in s for s in samples.values())},
            "complete": status["pending"] == 0,
            "stopped_by_budget": stopped and status["pending"] > 0,
        }
        if ctx.spec is not None:
            details["checklist"] = {condition_key(k): t for k, t in enumerate(ctx.spec.checklist, 1)}
        return details

    @staticmethod
    def _why_empty(details: dict) -> str:
        v = details["verdicts"]
        if v["pending"]:
            return "judge: stopped by --judge-max-calls before any sample was complete; rerun to continue"
        reasons = ", ".join(f"{k}: {n}" for k, n in v["failures"].items())
        return f"judge: no sample has all its verdicts ({v['failed']} of {v['questions']} failed: {reasons})"

