"""Parity of ibench's FID/KID path with clean-fid (maths, "clean" resize, features) and torchmetrics."""

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


def test_fid_and_kid_equal_cleanfid_on_the_same_features():
    from cleanfid.fid import fid_from_feats, kernel_distance

    from ibench.evaluators.setmetrics import fid, kid

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(80, 16)), rng.normal(0.3, 1.2, size=(70, 16))
    assert fid(a, b) == pytest.approx(fid_from_feats(a, b), rel=1e-6)
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    value = kid(a, b, seed=7)
    assert np.array_equal(np.random.get_state()[1], before)  # the global NumPy state is left alone
    np.random.seed(7)
    assert value == pytest.approx(kernel_distance(a, b), rel=1e-6)
    assert kid(a, b, seed=7) == value and kid(a, b, seed=8) != value  # seeded: reproducible


def test_set_metrics_are_none_rather_than_nan_so_json_stays_strict():
    from ibench.evaluators.setmetrics import set_metric

    rng = np.random.default_rng(0)
    gen, ref = rng.normal(size=(5, 4)), rng.normal(size=(6, 4))
    gen[0, 0] = np.nan  # a degenerate feature: clean-fid's KID would be NaN, written as a bare NaN token
    for name in ("fid", "kid"):
        value, stable, note = set_metric(name, gen, ref)
        assert value is None and stable is False and note
    assert set_metric("kid", gen[1:2], ref)[0] is None  # n = 1


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
    value, stable, note = set_metric("fid", ours[order(d1)], ours[order(d2)])
    assert value == pytest.approx(reference, rel=1e-6)
    assert not stable and "unstable" in note  # 6 images, 32-d features


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
