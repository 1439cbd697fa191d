"""Bradley–Terry ranking of models from pairwise preferences, with instance-clustered bootstrap CIs.

P(i beats j) = σ(θ_i − θ_j); θ is the maximum-likelihood fit with a tie counted as half a win for
each side (as LMSYS's Chatbot Arena does) and a weak Gaussian prior (σ = 10) that keeps θ finite when
a model never loses; θ is centred (mean 0). CIs resample whole instances (all verdicts on one
instance together: they are not independent), percentile intervals, seeded.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from ibench.core.pairwise import Preference

PRIOR_SD = 10.0
RESAMPLES = 1000
CONFIDENCE = 0.95


def fit_bt(models: list[str], pairs: np.ndarray, outcomes: np.ndarray) -> np.ndarray:
    """θ for ``models`` from ``pairs`` (rows of model indices i, j) and ``outcomes`` (score of i: 1, ½, 0)."""
    from scipy.optimize import minimize

    k = len(models)
    if k == 0:
        return np.zeros(0)
    i, j = pairs[:, 0], pairs[:, 1]

    def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
        d = theta[i] - theta[j]
        p = 1.0 / (1.0 + np.exp(-d))
        eps = 1e-12
        loss = -np.sum(outcomes * np.log(p + eps) + (1 - outcomes) * np.log(1 - p + eps)) + np.sum(theta**2) / (
            2 * PRIOR_SD**2)
        g = outcomes - p  # d loglik / d d
        grad = -(np.bincount(i, weights=g, minlength=k) - np.bincount(j, weights=g, minlength=k)) + theta / PRIOR_SD**2
        return float(loss), grad

    res = minimize(nll, np.zeros(k), jac=True, method="L-BFGS-B")
    theta = res.x
    return theta - theta.mean()


def _arrays(df: pd.DataFrame, index: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    pairs = np.stack([df["model_a"].map(index).to_numpy(), df["model_b"].map(index).to_numpy()], axis=1).astype(int)
    outcomes = df["winner"].map({"a": 1.0, "b": 0.0, "tie": 0.5}).to_numpy(dtype=float)
    return pairs, outcomes


def bradley_terry(prefs: Iterable[Preference], resamples: int = RESAMPLES, seed: int = 0,
                  confidence: float = CONFIDENCE) -> pd.DataFrame:
    """One row per model: ``model, theta, ci_low, ci_high, rank, wins, losses, ties, n`` (best first).

    Give the verdicts of one task and aspect (rank tasks separately; mixing them mixes scales).
    """
    df = pd.DataFrame([p.model_dump() for p in prefs])
    columns = ["model", "theta", "ci_low", "ci_high", "rank", "wins", "losses", "ties", "n"]
    if df.empty:
        return pd.DataFrame(columns=columns)
    models = sorted(set(df["model_a"]) | set(df["model_b"]))
    index = {m: k for k, m in enumerate(models)}
    pairs, outcomes = _arrays(df, index)
    theta = fit_bt(models, pairs, outcomes)
    groups = [g.index.to_numpy() for _, g in df.groupby(["task", "instance_id"], sort=True)]
    rng = np.random.default_rng(seed)
    boot = np.empty((resamples, len(models)))
    for r in range(resamples):
        rows = np.concatenate([groups[g] for g in rng.integers(0, len(groups), len(groups))])
        boot[r] = fit_bt(models, pairs[rows], outcomes[rows])
    alpha = (1 - confidence) / 2
    low, high = np.quantile(boot, alpha, axis=0), np.quantile(boot, 1 - alpha, axis=0)
    rows = []
    for m, k in index.items():
        as_a, as_b = df["model_a"] == m, df["model_b"] == m
        wins = int(((as_a & (df["winner"] == "a")) | (as_b & (df["winner"] == "b"))).sum())
        ties = int(((as_a | as_b) & (df["winner"] == "tie")).sum())
        n = int((as_a | as_b).sum())
        rows.append({"model": m, "theta": float(theta[k]), "ci_low": float(low[k]), "ci_high": float(high[k]),
                     "wins": wins, "losses": n - wins - ties, "ties": ties, "n": n})
    out = pd.DataFrame(rows).sort_values("theta", ascending=False, kind="stable").reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    return out[columns]


def position_bias(prefs: Iterable[Preference]) -> dict:
    """Share of decided verdicts won by the output presented first (0.5: no position bias), and the tie rate."""
    decided = [p.first_won for p in prefs]
    n, wins = sum(d is not None for d in decided), sum(bool(d) for d in decided if d is not None)
    return {"first_wins": wins / n if n else None, "decided": n, "ties": len(decided) - n}
