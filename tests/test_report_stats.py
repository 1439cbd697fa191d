"""The statistics reports rely on: rank correlations with bootstrap CIs, unpaired differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import kendalltau, spearmanr

from ibench.stats import _kendall_rows, _spearman_rows, corr_ci, paired_delta_ci, unpaired_delta_ci


def test_vectorised_rank_correlations_equal_scipy_with_ties():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 3, (40, 15)).astype(float)  # heavy ties, like 0 / 0.5 / 1 ratings
    y = x + rng.normal(scale=0.8, size=x.shape)
    y[:, :4] = 0.25
    sp = [spearmanr(a, b).statistic for a, b in zip(x, y)]
    kd = [kendalltau(a, b).statistic for a, b in zip(x, y)]
    np.testing.assert_allclose(_spearman_rows(x, y), sp, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(_kendall_rows(x, y), kd, atol=1e-12, equal_nan=True)
    big = rng.normal(size=(3, 200))  # the scipy path for large n
    np.testing.assert_allclose(_kendall_rows(big, big[::-1]), [kendalltau(a, b).statistic for a, b in zip(big, big[::-1])])


@pytest.mark.parametrize("method,ref", [("spearman", spearmanr), ("kendall", kendalltau)])
def test_corr_ci_value_p_and_interval(method, ref):
    rng = np.random.default_rng(0)
    x = rng.normal(size=60)
    y = x + rng.normal(size=60)
    est = corr_ci(x, y, method, seed=1)
    expected = ref(x, y)
    assert est.value == pytest.approx(expected.statistic) and est.p_value == pytest.approx(expected.pvalue)
    assert est.ci_low < est.value < est.ci_high and est.n == 60
    assert 0.1 < est.ci_high - est.ci_low < 0.6
    assert corr_ci(x, y, method, seed=1) == est  # seeded
    anti = corr_ci(x, -y, method, seed=1)
    assert anti.value == pytest.approx(-est.value) and anti.ci_high < 0


def test_corr_ci_degenerate_cases():
    assert math.isnan(corr_ci([1, 2], [3, 4]).value)  # n < 3
    assert math.isnan(corr_ci([1, 2, 3, 4], [1, 1, 1, 1]).value)  # constant side
    est = corr_ci([1, 2, np.nan, 4, 5], [2, 1, 7, 4, 3])  # NaN pairs dropped
    assert est.n == 4
    with pytest.raises(ValueError):
        corr_ci([1, 2, 3], [1, 2, 3], "pearson")


def test_unpaired_delta_ci_covers_a_shift_and_is_wider_than_paired():
    rng = np.random.default_rng(5)
    a = rng.normal(0.5, 0.2, 80)
    b = a + 0.05 + rng.normal(0, 0.01, 80)
    paired, unpaired = paired_delta_ci(a, b), unpaired_delta_ci(a, b)
    assert paired.mean == pytest.approx(unpaired.mean) == pytest.approx(b.mean() - a.mean())
    assert unpaired.ci_low < 0.05 < unpaired.ci_high and paired.ci_low > 0
    assert (unpaired.ci_high - unpaired.ci_low) > 5 * (paired.ci_high - paired.ci_low)
    assert unpaired_delta_ci([1, 1, 1], [2, 2]).ci_low == 1.0  # constant samples: zero-width interval
    assert math.isnan(unpaired_delta_ci([1.0], [2.0, 3.0]).ci_low)


@pytest.mark.parametrize("method,ref", [("spearman", spearmanr), ("kendall", kendalltau)])
def test_cluster_bootstrap_of_any_statistic_equals_corr_cis_weighted_clusters(method, ref):
    """``cluster_bootstrap`` resamples whole instances (every image of a drawn instance, as often as it is drawn):
    for a rank correlation it gives exactly ``corr_ci(..., clusters=)``'s interval, whose weighted ranks are checked
    against scipy above; resampling images one by one instead gives a narrower interval when an instance's images
    move together."""
    from ibench.stats import cluster_bootstrap, cluster_draws

    rng = np.random.default_rng(5)
    instance = np.repeat(np.arange(20), 4)  # 20 instances x 4 images
    shared = rng.normal(size=20)[instance]
    x, y = shared + rng.normal(0, 0.3, 80), shared + rng.normal(0, 0.3, 80)
    low, high = cluster_bootstrap(lambda i: ref(x[i], y[i]).statistic, instance, seed=2, resamples=400)
    c = corr_ci(x, y, method, seed=2, resamples=400, clusters=instance)
    assert (low, high) == pytest.approx((c.ci_low, c.ci_high), abs=1e-12)
    naive = cluster_bootstrap(lambda i: ref(x[i], y[i]).statistic, np.arange(80), seed=2, resamples=400)
    assert naive[1] - naive[0] < high - low
    draws = cluster_draws(instance, seed=1, resamples=3)
    assert all(d.size == 80 and all(np.sum(instance[d] == k) % 4 == 0 for k in range(20)) for d in draws)
    assert all(math.isnan(v) for v in cluster_bootstrap(np.mean, np.zeros(5), seed=0))  # one cluster: no interval
