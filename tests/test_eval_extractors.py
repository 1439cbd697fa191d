"""Extractors: tiny random models saved and reloaded through the real loaders; weights errors; config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ibench.errors import IbenchError
from ibench.evaluators.tiny import save_tiny_clip, save_tiny_depth, save_tiny_dino, save_tiny_gram

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def photo(shared_data) -> Image.Image:
    return Image.open(shared_data / "dreambench" / "dog" / "00.jpg").convert("RGB")


def _features(ext, images):
    ext.load()
    return ext.forward(torch.stack([ext.transform(im) for im in images]))


def test_tiny_clip_saved_and_reloaded(tmp_path, photo):
    from ibench.evaluators.clip import ClipBackend, ClipImage, ClipText
    from ibench.evaluators.config import resolve_config

    cfg = resolve_config({"clip": save_tiny_clip(tmp_path)})
    image, text = ClipImage(ClipBackend(cfg)), ClipText(ClipBackend(cfg))
    assert image.id.startswith("open_clip:ibench-tiny-clip:sha256:") and image.id == text.id  # the weights by content
    v = _features(image, [photo, photo.transpose(Image.FLIP_LEFT_RIGHT)])
    t = text.forward(["a dog", "a red cartoon"])
    assert v.shape == (2, 32) and t.shape == (2, 32)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1, rtol=1e-5)
    assert not np.allclose(t[0], t[1])


@pytest.mark.parametrize("arch", ["vit", "dinov2"])
def test_tiny_dino_saved_and_reloaded(tmp_path, photo, arch):
    from transformers import AutoModel

    from ibench.evaluators.config import ExtractorConfig
    from ibench.evaluators.dino import Dino

    folder = save_tiny_dino(tmp_path / arch, arch)
    ext = Dino(ExtractorConfig(dino_model=folder))
    v = _features(ext, [photo])
    model = AutoModel.from_pretrained(folder).eval()
    with torch.no_grad():
        cls = model(pixel_values=ext.transform(photo)[None]).last_hidden_state[:, 0]
    np.testing.assert_allclose(v[0], (cls / cls.norm()).numpy()[0], rtol=1e-5, atol=1e-6)


def test_tiny_gram_saved_and_reloaded(tmp_path, photo):
    from ibench.evaluators.config import ExtractorConfig
    from ibench.evaluators.gram import Gram

    ext = Gram(ExtractorConfig(style_model=save_tiny_gram(tmp_path), style_layers=3))
    v = _features(ext, [photo, photo.transpose(Image.FLIP_LEFT_RIGHT), Image.new("RGB", (64, 64), (200, 30, 30))])
    assert v.dtype == np.float16
    same = float(v[0].astype(np.float32) @ v[0].astype(np.float32))
    flipped = float(v[0].astype(np.float32) @ v[1].astype(np.float32))
    flat = float(v[0].astype(np.float32) @ v[2].astype(np.float32))
    assert same == pytest.approx(1.0, abs=2e-3)  # unit norm: the dot product is a mean of cosines
    assert flipped > flat  # a mirrored photo has (nearly) the same Gram statistics, a flat colour does not


def test_gram_descriptor_is_the_mean_layer_cosine():
    from ibench.evaluators.gram import gram_descriptor

    torch.manual_seed(0)
    a = [torch.rand(1, 4, 5, 5), torch.rand(1, 6, 3, 3)]
    b = [torch.rand(1, 4, 5, 5), torch.rand(1, 6, 3, 3)]
    expect = []
    for fa, fb in zip(a, b):
        ga, gb = [(f.reshape(f.shape[1], -1) @ f.reshape(f.shape[1], -1).T).flatten() for f in (fa, fb)]
        expect.append(float(ga @ gb / ga.norm() / gb.norm()))
    got = float(gram_descriptor(a)[0] @ gram_descriptor(b)[0])
    assert got == pytest.approx(np.mean(expect), rel=1e-5)


def test_tiny_depth_model_scores(tmp_path, photo):
    from ibench.evaluators.control import DepthModel, depth_error

    model = DepthModel(save_tiny_depth(tmp_path))
    target = np.linspace(0, 1, 48 * 64, dtype=np.float32).reshape(48, 64)
    (err,) = model.errors([(photo.resize((64, 48)), target)])
    assert 0 <= err < 0.5
    assert depth_error(target, 3 * target + 2) == pytest.approx(0, abs=1e-6)  # scale and shift invariant
    assert depth_error(target, 1 - target) > 0.2  # an inverted map is wrong, not "scale -1"


def test_control_metrics_of_perfect_and_empty_outputs(photo):
    from ibench.data import controls
    from ibench.evaluators.control import edge_f1, mask_agreement

    edges = controls.canny(photo)
    assert edge_f1(photo, edges) == 1.0
    assert edge_f1(Image.new("RGB", photo.size), edges) == 0.0
    mask = controls.grabcut_mask(photo)
    assert mask_agreement(photo, mask) == 1.0
    assert mask_agreement(Image.new("RGB", photo.size), mask) <= 0.55  # a blank output is at chance or worse


def test_offline_missing_weights_give_one_clear_error(monkeypatch):
    from ibench.evaluators.clip import ClipBackend
    from ibench.evaluators.config import ExtractorConfig
    from ibench.evaluators.dino import Dino
    from ibench.evaluators.inception import Inception

    cfg = ExtractorConfig()
    with pytest.raises(IbenchError, match=r"CLIP weights 'ViT-B-32-quickgelu' / 'openai'.*hf download timm/vit_base_patch32_clip_224\.openai") as e:
        ClipBackend(cfg)
    assert "\n" not in str(e.value)
    with pytest.raises(IbenchError, match=r"DINO model 'facebook/dino-vits16'.*hf download facebook/dino-vits16"):
        Dino(cfg)
    if Path("/tmp/inception-2015-12-05.pt").exists():
        pytest.skip("clean-fid's Inception weights are present in /tmp on this machine")
    with pytest.raises(IbenchError, match=r"FID Inception weights \(inception-2015-12-05\.pt\).*IBENCH_INCEPTION_WEIGHTS"):
        Inception(cfg)
    with pytest.raises(IbenchError, match=r"not found at .*nowhere"):
        Inception(ExtractorConfig(inception_weights="/nowhere/inception-2015-12-05.pt"))


def test_config_precedence_and_errors(tmp_path, monkeypatch):
    from ibench.evaluators.config import resolve_config

    assert resolve_config().clip_model == "ViT-B-32-quickgelu" and resolve_config().dino_model == "facebook/dino-vits16"
    monkeypatch.setenv("IBENCH_DINO_MODEL", "/env/dino")
    monkeypatch.setenv("IBENCH_CLIP_PRETRAINED", "/env/clip.pt")
    f = tmp_path / "x.yaml"
    f.write_text("dino: {model: /file/dino}\nstyle: {layers: 2}\n")
    cfg = resolve_config(f)
    assert (cfg.dino_model, cfg.clip_pretrained, cfg.style_layers) == ("/file/dino", "/env/clip.pt", 2)
    monkeypatch.setenv("IBENCH_EXTRACTOR_CONFIG", str(f))
    assert resolve_config().dino_model == "/env/dino"  # explicit env var beats the env config file
    f.write_text("dino: {modle: x}\n")
    with pytest.raises(IbenchError, match="unknown extractor setting dino.modle"):
        resolve_config(f)


def test_metric_registry_did_you_mean():
    from ibench.core.metrics import METRICS, get_metric, parse_metrics

    assert {"clip_t", "dino", "clip_i", "style_clip", "style_gram", "content_clip", "control_edge", "control_mask",
            "control_depth", "fid", "kid"} <= set(METRICS)
    assert [m.name for m in parse_metrics("clip_t, fid,clip_t")] == ["clip_t", "fid"]
    assert not get_metric("fid").higher_is_better and get_metric("dino").higher_is_better
    with pytest.raises(IbenchError, match="did you mean 'clip_t'"):
        get_metric("clip_tt")


def test_edge_f1_maths_on_a_hand_made_example():
    """Target: a 10-px vertical line. Prediction: 5 px of it shifted 2 px right (matched), 5 px shifted 3 px
    (unmatched) and 2 stray pixels at (1, 2) and (2, 1) from a target pixel (both 2.24 px away: unmatched
    either way round, the tolerance is a Euclidean disc). P = 5/12, R = 5/10 (the shifted part's rows)."""
    from ibench.evaluators.control import edge_prf

    target = np.zeros((20, 20), bool)
    target[5:15, 8] = True
    pred = np.zeros_like(target)
    pred[5:10, 10] = True  # 2 px away: within tolerance
    pred[10:15, 11] = True  # 3 px away: not
    pred[3, 9] = pred[4, 10] = True  # (dy, dx) = (2, 1) and (1, 2) from (5, 8): 2.24 px, both out
    p, r, f1 = edge_prf(pred, target, tolerance=2)
    assert (p, r) == pytest.approx((5 / 12, 5 / 10))
    assert f1 == pytest.approx(2 * p * r / (p + r))
    assert edge_prf(pred.T, target.T, tolerance=2) == pytest.approx((p, r, f1))  # isotropic
    assert edge_prf(target, target, 0) == (1.0, 1.0, 1.0)
    assert edge_prf(np.zeros_like(target), target)[2] == 0.0


def test_depth_error_is_scale_and_shift_invariant_but_not_inversion_invariant():
    from ibench.evaluators.control import depth_error

    t = np.linspace(0, 1, 64).reshape(8, 8)
    assert depth_error(0.5 * t + 0.2, t) == pytest.approx(0.0, abs=1e-9)
    assert depth_error(1 - t, t) == pytest.approx(np.abs(t - t.mean()).mean())  # flipped: best is a constant


def test_the_known_clip_tags_are_where_open_clip_says():
    import open_clip

    from ibench.evaluators.clip import KNOWN_TAGS

    for (model, tag), hub in KNOWN_TAGS.items():
        assert tag in open_clip.list_pretrained_tags_by_model(model)
        assert (open_clip.get_pretrained_cfg(model, tag).get("hf_hub") or "").strip("/") == hub
