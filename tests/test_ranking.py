"""Bradley–Terry ranking and the pairwise record format shared by the judge and the rating app."""

import numpy as np
import pytest

from ibench.core.pairwise import Preference, read_preferences, write_preferences
from ibench.errors import IbenchError
from ibench.ranking import bradley_terry, fit_bt, position_bias


def prefs_from(theta: dict[str, float], n_instances: int, seed: int = 0) -> list[Preference]:
    rng = np.random.default_rng(seed)
    models, out = sorted(theta), []
    for k in range(n_instances):
        for a in range(len(models)):
            for b in range(a + 1, len(models)):
                p = 1 / (1 + np.exp(-(theta[models[a]] - theta[models[b]])))
                order = "ab" if rng.random() < 0.5 else "ba"
                out.append(Preference(task="t", instance_id=f"i{k}", sample=0, model_a=models[a], model_b=models[b],
                                      run_a="ra", run_b="rb", aspect="overall", order=order,
                                      winner="a" if rng.random() < p else "b", judge="sim"))
    return out


def test_fit_equals_an_independent_logistic_regression():
    """θ_i − θ_j is the coefficient of a no-intercept logistic regression on ±1 indicators (statsmodels)."""
    import statsmodels.api as sm

    prefs = prefs_from({"a": 0.8, "b": 0.0, "c": -0.6}, 120)
    models = ["a", "b", "c"]
    idx = {m: k for k, m in enumerate(models)}
    pairs = np.array([[idx[p.model_a], idx[p.model_b]] for p in prefs])
    y = np.array([1.0 if p.winner == "a" else 0.0 for p in prefs])
    theta = fit_bt(models, pairs, y)
    x = np.zeros((len(prefs), 2))  # model "c" is the reference (θ_c = 0)
    for r, (i, j) in enumerate(pairs):
        for col, m in ((0, 0), (1, 1)):
            x[r, col] = float(i == m) - float(j == m)
    ref = sm.Logit(y, x).fit(disp=0).params
    np.testing.assert_allclose(theta[:2] - theta[2], ref, atol=2e-3)  # the weak prior moves it by < 0.002


def test_ranking_recovers_the_order_with_instance_clustered_cis():
    table = bradley_terry(prefs_from({"strong": 1.5, "mid": 0.0, "weak": -1.5}, 60), resamples=200)
    assert list(table["model"]) == ["strong", "mid", "weak"] and list(table["rank"]) == [1, 2, 3]
    assert (table["ci_low"] <= table["theta"]).all() and (table["theta"] <= table["ci_high"]).all()
    assert table.loc[0, "ci_low"] > table.loc[2, "ci_high"], "a large effect separates the extremes"
    assert (table["wins"] + table["losses"] + table["ties"] == table["n"]).all()
    assert abs(table["theta"].sum()) < 1e-9


def test_ties_are_half_wins_and_a_model_that_never_loses_stays_finite():
    base = dict(task="t", sample=0, run_a="r", run_b="s", aspect="sc", order="ab", judge="j")
    ties = [Preference(instance_id=f"i{k}", model_a="x", model_b="y", winner="tie", **base) for k in range(10)]
    table = bradley_terry(ties, resamples=50)
    assert np.allclose(table["theta"], 0.0, atol=1e-6) and set(table["ties"]) == {10}
    sweep = [Preference(instance_id=f"i{k}", model_a="x", model_b="y", winner="a", **base) for k in range(10)]
    table = bradley_terry(sweep, resamples=50)
    assert np.isfinite(table["theta"]).all() and table.loc[0, "model"] == "x"


def test_position_bias_and_round_trip(tmp_path):
    base = dict(task="t", instance_id="i", sample=0, model_a="x", model_b="y", run_a="r", run_b="s", aspect="sc",
                judge="j")
    prefs = [Preference(order="ab", winner="a", **base), Preference(order="ba", winner="b", **base),
             Preference(order="ba", winner="a", **base), Preference(order="ab", winner="tie", **base)]
    assert position_bias(prefs) == {"first_wins": 2 / 3, "decided": 3, "ties": 1}
    write_preferences(tmp_path / "p.jsonl", prefs)
    assert read_preferences(tmp_path / "p.jsonl") == prefs
    (tmp_path / "bad.jsonl").write_text('{"task": "t"}\n')
    with pytest.raises(IbenchError, match="bad.jsonl: record 1"):
        read_preferences(tmp_path / "bad.jsonl")
