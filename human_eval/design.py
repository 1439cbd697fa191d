"""A study's design beyond "every output": pairs of outputs, a stratified subset, and the items that
check or train raters (practice, gold items with known answers, attention checks).

- **Pairs** (``kind=pairwise``): for every instance × sample rated by several models of a task, one
  item per pair of models; which one is shown left is drawn per assignment, balanced per rater.
- **Subset** (``--items N``): N items spread evenly over the tasks (largest remainder), drawn per task
  with the study's seed; every model's output of a drawn instance × sample is kept, so models stay
  paired; sample 0 of each instance is drawn before any second sample.
- **Gold** (``--gold FILE``, JSONL or YAML list): outputs of the study with a known answer. The first
  ``--practice`` of them open every rater's queue as practice, with the answer shown as feedback; the
  rest are hidden gold items, rated by every rater among the main items. Without a gold file,
  practice items are copies of main items, without feedback.
- **Attention checks** (``--attention N``): per rater, N copies of main items that ask for one given
  answer ("press 0.5 for every question"; pairwise: "answer tie"), placed at random.

Only ``main`` items count in scores, agreement and exports; the admin page shows each rater's
accuracy on gold items and attention checks.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from itertools import combinations
from pathlib import Path
from typing import Optional, Sequence

from ibench.errors import IbenchError, one_line

from .rubric import LEVELS, PAIR_ASPECTS

MODEL_SIDES = ("a", "b", "tie")


def pair_records(records: list[dict]) -> list[dict]:
    """One pairwise item per instance × sample × pair of models of a task (models in label order)."""
    groups: dict[tuple[str, str, int], list[dict]] = defaultdict(list)
    for r in records:
        groups[(r["task"], r["instance_id"], r["sample"])].append(r)
    out = []
    for (task, inst, sample), group in sorted(groups.items()):
        for a, b in combinations(sorted(group, key=lambda r: r["model"]), 2):
            out.append({**a, "uid": f"{inst}/{sample}:{a['model']}|{b['model']}", "model_b": b["model"],
                        "run_b": b["run_id"], "image_b": b["image"]})
    if not out:
        raise IbenchError("a pairwise study needs two or more runs of the same task with shared instances")
    return out


def stratified_subset(records: list[dict], n: int, seed: str) -> list[dict]:
    """About ``n`` items, spread evenly over the tasks, whole instance × sample groups (see the module)."""
    if n < 1:
        raise IbenchError("--items must be at least 1")
    groups: dict[str, dict[tuple[str, int], list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, r in enumerate(records):
        groups[r["task"]][(r["instance_id"], r["sample"])].append(i)
    per_key = {t: max(len(v) for v in g.values()) for t, g in groups.items()}
    tasks = sorted(groups)
    share = {t: n / len(tasks) / per_key[t] for t in tasks}  # keys per task
    keys = {t: min(int(share[t]), len(groups[t])) for t in tasks}
    left = sorted(tasks, key=lambda t: share[t] - int(share[t]), reverse=True)
    while sum(keys[t] * per_key[t] for t in tasks) < n and any(keys[t] < len(groups[t]) for t in tasks):
        for t in left:
            if keys[t] < len(groups[t]) and sum(keys[u] * per_key[u] for u in tasks) < n:
                keys[t] += 1
    rng = random.Random(seed)
    chosen: list[int] = []
    for t in tasks:
        order = list(groups[t])
        rng.shuffle(order)
        order.sort(key=lambda k: k[1])  # every instance's sample 0 before any sample 1 (stable: shuffled within)
        for key in order[:keys[t]]:
            chosen += groups[t][key]
    return [records[i] for i in sorted(chosen)]


def _read_entries(path: Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise IbenchError(f"--gold {path} does not exist")
    if path.suffix in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise IbenchError(f"{path}: invalid YAML: {one_line(exc)}") from None
        entries = data if isinstance(data, list) else None
    else:
        entries = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    entries.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise IbenchError(f"{path}: line {n} is not JSON ({exc.msg})") from None
    if not entries or not all(isinstance(e, dict) for e in entries):
        raise IbenchError(f"{path}: expected a list of gold items (one JSON object per line, or a YAML list)")
    return entries


def _expected(entry: dict, kind: str, where: str, n_conditions: int) -> dict:
    if kind == "pairwise":
        out = {a: entry.get(a) for a in PAIR_ASPECTS}
        bad = [a for a, v in out.items() if v not in MODEL_SIDES]
        if bad:
            raise IbenchError(f"{where}: `{bad[0]}` must be a (model_a better), b or tie")
        return out
    conditions, pq = entry.get("conditions"), entry.get("pq")
    if not isinstance(conditions, list) or len(conditions) != n_conditions \
            or any(float(v) not in LEVELS for v in conditions) or pq is None or float(pq) not in LEVELS:
        raise IbenchError(f"{where}: needs `conditions` (one of 0, 0.5, 1 for each of the item's {n_conditions} "
                          f"conditions) and `pq` (0, 0.5 or 1)")
    return {"conditions": [float(v) for v in conditions], "pq": float(pq)}


def gold_records(path: Path, records: list[dict], kind: str) -> list[dict]:
    """The study's outputs named in a gold file, with their known answers (role ``gold``)."""
    index = {}
    for r in records:
        key = (r["task"], r["instance_id"], int(r["sample"]), r["model"], r.get("model_b"))
        index[key] = r
    out = []
    for n, e in enumerate(_read_entries(path), 1):
        where = f"{path} item {n}"
        models = (e.get("model_a"), e.get("model_b")) if kind == "pairwise" else (e.get("model"), None)
        key = (e.get("task"), e.get("instance_id"), int(e.get("sample", 0)), *models)
        if key not in index:
            named = "model_a/model_b" if kind == "pairwise" else "model"
            raise IbenchError(f"{where}: no output of this study has task {key[0]!r}, instance_id {key[1]!r}, "
                              f"sample {key[2]} and {named} {models[0]!r}" + (f"/{models[1]!r}" if models[1] else ""))
        base = index[key]
        checklist = (base["instance"] or {}).get("checklist") or [""]
        out.append({**base, "role": "gold", "uid": f"gold:{n}:{base['uid']}",
                    "expected": _expected(e, kind, where, len(checklist)), "notice": None,
                    "note": str(e.get("note") or "")})
    return out


def practice_from(gold: list[dict], records: list[dict], n: int, seed: str) -> tuple[list[dict], list[dict]]:
    """(practice items, the gold items left hidden): the first ``n`` gold items, else copies of main items."""
    if n <= 0:
        return [], gold
    if gold:
        practice = [{**g, "role": "practice", "uid": "practice:" + g["uid"],
                     "notice": "Practice item: after you answer you will see the expected answer."
                               + (f" {g['note']}" if g.get("note") else "")} for g in gold[:n]]
        return practice, gold[n:]
    rng = random.Random(seed)
    picks = rng.sample(records, min(n, len(records)))
    return [{**r, "role": "practice", "uid": f"practice:{k}:{r['uid']}", "expected": None,
             "notice": "Practice item: it does not count."} for k, r in enumerate(picks)], []


def attention_records(records: list[dict], names: Sequence[str], n: int, kind: str, seed: str) -> dict[str, list[dict]]:
    """Per rater, ``n`` instructed-response copies of main items."""
    if n <= 0:
        return {name: [] for name in names}
    rng = random.Random(seed)
    out = {}
    for name in names:
        mine = []
        for k, r in enumerate(rng.sample(records, min(n, len(records)))):
            if kind == "pairwise":
                expected, text = {a: "tie" for a in PAIR_ASPECTS}, "answer “tie” (=) to both questions"
            else:
                level = rng.choice(LEVELS)
                n_cond = len((r["instance"] or {}).get("checklist") or [""])
                expected, text = {"conditions": [level] * n_cond, "pq": level}, f"answer {level:g} to every question"
            mine.append({**r, "role": "attention", "uid": f"attention:{name}:{k}:{r['uid']}", "expected": expected,
                         "notice": f"Attention check: whatever the images show, {text}."})
        out[name] = mine
    return out


def balanced_orders(count: int, rng: random.Random) -> list[str]:
    """Pairwise presentation orders for one rater's items: half ``ab`` (model A left), half ``ba``, shuffled."""
    orders = ["ab", "ba"] * (count // 2) + ([rng.choice(["ab", "ba"])] if count % 2 else [])
    rng.shuffle(orders)
    return orders


def accuracy_row(expected: Optional[dict], rating: dict, kind: str) -> Optional[bool]:
    """Whether a rating gives the known answer (None when it cannot be judged: not rated, no answer)."""
    if not expected or rating.get("status") != "rated":
        return None
    if kind == "pairwise":
        return all((rating.get("preference") or {}).get(a) == expected.get(a) for a in PAIR_ASPECTS)
    return list(rating.get("conditions") or []) == expected["conditions"] and rating.get("pq") == expected["pq"]
