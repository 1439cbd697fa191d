"""Parity of ibench's FID/KID path with clean-fid (maths, "clean" resize, features) and torchmetrics; KID on
all images, its subsets, noise floors and collapse."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from ibench.evaluators.tiny import save_tiny_inception

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def images(shared_data) -> list[Path]:
    """Real images of several sizes (square DreamBench, portrait and landscape paintings)."""
    picks = sorted((shared_data / "dreambench" / "dog").glob("*.jpg"))[:4]
    picks += sorted((shared_data / "styles" / "classic").glob("*.jpg"))[:4]
    picks += sorted((shared_data / "content").glob("*.jpg"))[:4]
    return picks


@pytest.fixture(scope="module")
def inception(tmp_path_factory):
    from ibench.evaluators.config import ExtractorConfig
    from ibench.evaluators.inception import Inception

    folder = Path(save_tiny_inception(tmp_path_factory.mktemp("inception"), dim=32))
    return Inception(ExtractorConfig(inception_weights=str(folder))).load()


def test_clean_resize_equals_cleanfid_pixel_for_pixel(images):
    from cleanfid.resize import make_resizer
    from cleanfid.utils import ResizeDataset
    from PIL import Image

    from ibench.evaluators.inception import CleanResize

    ours, theirs = CleanResize(), ResizeDataset([str(p) for p in images], mode="clean")
    reference = make_resizer("PIL", False, "bicubic", (299, 299))
    sizes = set()
    for i, path in enumerate(images):
        with Image.open(path) as im:
            sizes.add(im.size)
            mine = ours(im)
            direct = reference(np.asarray(im.convert("RGB")))
        assert mine.dtype == torch.float32 and tuple(mine.shape) == (3, 299, 299)
        assert torch.equal(mine, theirs[i])
        assert np.array_equal(mine.numpy().transpose(1, 2, 0), direct)
    assert len(sizes) >= 3  # square, portrait and landscape inputs


def test_fid_equals_cleanfid_and_kid_on_all_images_equals_cleanfid_with_one_full_subset():
    from cleanfid.fid import fid_from_feats, kernel_distance

    from ibench.evaluators.setmetrics import fid, kid

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(80, 16)), rng.normal(0.3, 1.2, size=(70, 16))
    assert fid(a, b) == pytest.approx(fid_from_feats(a, b), rel=1e-6)
    # equal sizes: one subset of every image is a permutation of each set, i.e. the full unbiased estimate
    est = kid(a[:70], b)
    np.random.seed(3)
    assert est.estimator == "all images" and est.mc_se is None
    assert est.value == pytest.approx(kernel_distance(a[:70], b, num_subsets=1, max_subset_size=70), rel=1e-9)
    # no dependence on row order (clean-fid's subsets follow it; the issue measured 5.6 % across seeds)
    assert kid(a[::-1], b[rng.permutation(70)]).value == pytest.approx(kid(a, b).value, rel=1e-12)


def test_kid_on_unequal_sets_equals_the_unbiased_mmd_written_out():
    from ibench.evaluators.setmetrics import kid_full

    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(12, 5)), rng.normal(0.5, 1.0, size=(9, 5))

    def k(u, v):
        return (float(u @ v) / 5 + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(12) for j in range(12) if i != j) / (12 * 11)
    yy = sum(k(y[i], y[j]) for i in range(9) for j in range(9) if i != j) / (9 * 8)
    xy = sum(k(x[i], y[j]) for i in range(12) for j in range(9)) / (12 * 9)
    assert kid_full(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-12)


def test_kid_on_subsets_draws_as_cleanfid_and_reports_its_monte_carlo_error(monkeypatch):
    from cleanfid.fid import kernel_distance

    from ibench.evaluators import setmetrics
    from ibench.evaluators.setmetrics import kid, kid_subsets

    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(60, 8)), rng.normal(0.2, 1.0, size=(50, 8))
    est = kid_subsets(a, b, seed=7, size=20, step=100, most=100, target=0.0)
    np.random.seed(7)
    assert est.value == pytest.approx(kernel_distance(a, b, num_subsets=100, max_subset_size=20), rel=1e-9)
    assert est.subsets == 100 and est.subset_size == 20 and 0 < est.mc_se < abs(est.value)
    more = kid_subsets(a, b, seed=7, size=20, step=100, most=400, target=0.0)
    assert more.subsets == 400 and more.mc_se < est.mc_se
    early = kid_subsets(a, b, seed=7, size=20, step=100, most=1000, target=10.0)  # a loose target stops at once
    assert early.subsets == 100
    monkeypatch.setattr(setmetrics, "KID_FULL_MAX", 40)  # beyond it, kid() switches to subsets
    assert kid(a, b).estimator == "subsets" and kid(a[:40], b[:40]).estimator == "all images"


def test_set_metrics_are_none_rather_than_nan_so_json_stays_strict():
    from ibench.evaluators.setmetrics import set_metric

    rng = np.random.default_rng(0)
    gen, ref = rng.normal(size=(5, 4)), rng.normal(size=(6, 4))
    gen[0, 0] = np.nan  # a degenerate feature: clean-fid's KID would be NaN, written as a bare NaN token
    for name in ("fid", "kid"):
        rec = set_metric(name, gen, ref)
        assert rec["value"] is None and rec["stable"] is False and rec["note"]
    assert set_metric("kid", gen[1:2], ref)["value"] is None  # n = 1


def test_a_collapsed_set_scores_worse_than_a_diverse_one():
    """Duplicates count (as in clean-fid): 120 images that are 3 distinct ones are far from the reference
    distribution; 120 fresh draws of it are not."""
    from ibench.evaluators.setmetrics import noise_floor, set_metric

    rng = np.random.default_rng(4)
    ref = rng.normal(size=(400, 8))
    diverse = rng.normal(size=(120, 8))
    collapsed = np.repeat(rng.normal(size=(3, 8)), 40, axis=0)
    for name in ("fid", "kid"):
        floor = noise_floor(name, ref, 120)
        good, bad = set_metric(name, diverse, ref, floor), set_metric(name, collapsed, ref, floor)
        assert bad["value"] > good["value"] + 2 * floor.sd, name
        assert bad["stable"] and not good["stable"]  # the collapse stands out from the floor; fresh draws do not


def test_noise_floor_is_two_disjoint_halves_of_the_reference_set():
    from ibench.evaluators.setmetrics import fid, kid, noise_floor, set_metric

    rng = np.random.default_rng(5)
    ref = rng.normal(size=(100, 6))
    floor = noise_floor("fid", ref, 30, splits=4, seed=9)
    perms = np.random.default_rng(9)
    by_hand = [fid(ref[p[:30]], ref[p[30:60]]) for p in (perms.permutation(100) for _ in range(4))]
    assert (floor.n, floor.splits) == (30, 4)
    assert floor.mean == pytest.approx(np.mean(by_hand)) and floor.sd == pytest.approx(np.std(by_hand, ddof=1))
    small = noise_floor("kid", ref, 80)  # the set holds fewer than 2 x 80: halves of 50, an upper bound
    perms = np.random.default_rng(0)
    by_hand = [kid(ref[p[:50]], ref[p[50:]]).value for p in (perms.permutation(100) for _ in range(3))]
    assert small.n == 50 and small.mean == pytest.approx(np.mean(by_hand))
    rec = set_metric("kid", rng.normal(size=(80, 6)), ref, small)
    assert rec["noise_floor"] == small.as_dict() and "an upper bound of the floor at N=80" in rec["note"]
    assert noise_floor("fid", ref[:3], 10) is None  # no two halves of 2


def test_features_and_fid_match_cleanfid_compute_fid(images, inception, tmp_path):
    """ibench's streaming feature path vs clean-fid's own folder pipeline with the same extractor."""
    from cleanfid.fid import compute_fid, get_files_features

    from ibench.evaluators.cache import FeatureCache
    from ibench.evaluators.features import ensure_image_features
    from ibench.evaluators.setmetrics import set_metric
    from ibench.core.rundir import sha256_file

    def fx(batch: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(inception.forward(batch))

    cache = FeatureCache(inception.id, inception.preprocessing)
    shas = [sha256_file(p) for p in images]
    ensure_image_features({"inception": dict(zip(shas, images))}, {"inception": inception}, {"inception": cache},
                          batch_size=5, num_workers=0)
    got = cache.get(shas)
    ours = np.stack([got[s] for s in shas])
    theirs = get_files_features([str(p) for p in images], model=fx, num_workers=0, batch_size=4,
                                device=torch.device("cpu"), mode="clean", verbose=False)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)

    d1, d2 = tmp_path / "a", tmp_path / "b"
    for d, part in ((d1, images[:6]), (d2, images[6:])):
        d.mkdir()
        for p in part:
            shutil.copy(p, d / p.name)
    reference = compute_fid(str(d1), str(d2), mode="clean", custom_feat_extractor=fx, device=torch.device("cpu"),
                            num_workers=0, batch_size=4, verbose=False)
    order = lambda d: [images.index(p) for p in images if (d / p.name).exists()]  # noqa: E731
    rec = set_metric("fid", ours[order(d1)], ours[order(d2)])
    assert rec["value"] == pytest.approx(reference, rel=1e-6)
    assert not rec["stable"] and "no noise floor" in rec["note"]  # none given


def test_inception_forward_equals_cleanfid_inceptionv3w(tmp_path):
    """The 2048-d path: ibench's forward equals clean-fid's InceptionV3W.forward on the same file."""
    from cleanfid.inception_torchscript import InceptionV3W

    from ibench.evaluators.config import ExtractorConfig
    from ibench.evaluators.inception import Inception

    folder = save_tiny_inception(tmp_path / "w", dim=2048)
    ours = Inception(ExtractorConfig(inception_weights=folder))
    x = torch.rand(3, 3, 299, 299) * 255
    with torch.no_grad():
        ref = InceptionV3W(folder, download=False)(x).numpy()
    np.testing.assert_array_equal(ours.forward(x), ref)


def test_torchmetrics_fid_agrees_with_the_same_feature_module(images, inception):
    from torchmetrics.image.fid import FrechetInceptionDistance

    from ibench.evaluators.inception import CleanResize
    from ibench.evaluators.setmetrics import fid
    from PIL import Image

    class Features(torch.nn.Module):
        num_features = 32

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.from_numpy(inception.forward(x))

    resize = CleanResize()
    batch = torch.stack([resize(Image.open(p)) for p in images])
    real, fake = batch[:6], batch[6:]
    metric = FrechetInceptionDistance(feature=Features(), normalize=False)
    metric.update(real, real=True)
    metric.update(fake, real=False)
    feats = inception.forward(batch)
    assert float(metric.compute()) == pytest.approx(fid(feats[6:], feats[:6]), rel=1e-3)
