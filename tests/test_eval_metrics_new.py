"""The new metrics against independent computations: LPIPS (the package's own call), CSD and DINOv2 (direct
forwards of the same random-weight architectures), ControlNet++'s exact control metrics (hand-made maps),
face identity (a constructed case with a stand-in analyzer); recipes and comparable_with on every metric."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ibench.errors import IbenchError

torch.set_num_threads(1)
ATOL_DINOV2 = 1e-3


@pytest.fixture(scope="module")
def photos(shared_data) -> list[Image.Image]:
    return [Image.open(shared_data / "dreambench" / "dog" / f"0{i}.jpg").convert("RGB") for i in range(3)]


# -- LPIPS ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lpips_ext(tmp_path_factory):
    from ibench.evaluators.config import ExtractorConfig
    from ibench.evaluators.perceptual import Lpips
    from ibench.evaluators.tiny import save_tiny_lpips_backbone

    backbone = save_tiny_lpips_backbone(tmp_path_factory.mktemp("lpips"))
    return Lpips(ExtractorConfig(lpips_backbone=backbone)).load(), backbone


def package_lpips(backbone: str, spatial: bool):
    """The lpips package's own model with the same backbone weights, loaded by hand."""
    import lpips

    model = lpips.LPIPS(net="alex", spatial=spatial, pnet_rand=True, verbose=False)
    state = torch.load(backbone, weights_only=True)
    for name, module in model.net.named_children():  # slice1.0 <- features.0, ...
        for idx, layer in module.named_children():
            for p, t in layer.named_parameters():
                t.data.copy_(state[f"features.{idx}.{p}"])
    return model.eval()


def test_lpips_equals_the_package_call(lpips_ext, photos):
    ext, backbone = lpips_ext
    a, b = (torch.from_numpy(np.asarray(p.resize((96, 64)), np.float32) / 255).permute(2, 0, 1)[None] for p in photos[:2])
    ours = ext.distance_map(a, b)
    with torch.no_grad():
        theirs = package_lpips(backbone, spatial=True)(a * 2 - 1, b * 2 - 1)
        scalar = package_lpips(backbone, spatial=False)(a, b, normalize=True)
    assert ours.shape == (1, 1, 64, 96)
    torch.testing.assert_close(ours, theirs)
    assert float(ours.mean()) == pytest.approx(float(scalar), rel=0.05)  # the spatial map averages to the score
    assert float(ext.distance_map(a, a).max()) == pytest.approx(0, abs=1e-6)


def test_locality_outside_the_dilated_mask_equals_a_direct_computation(lpips_ext, tmp_path, photos):
    """edit_lpips / edit_l1 through the scoring path vs numpy and the lpips package on the same pixels."""
    import cv2

    from ibench.core.instance import Instance
    from ibench.core.instruction import Instruction, Reference
    from ibench.core.metrics import LOCALITY, get_metric
    from ibench.core.paths import DataRoot
    from ibench.evaluators.perceptual import LocalityKind

    ext, backbone = lpips_ext
    root = tmp_path / "root"
    (root / "derived" / "mask").mkdir(parents=True)
    src = photos[0].resize((320, 240))
    src.save(root / "src.png")
    mask = np.zeros((240, 320), np.uint8)
    mask[60:180, 100:220] = 255
    Image.fromarray(mask).save(root / "derived" / "mask" / "src.png")
    out = src.copy()
    out.paste((250, 0, 0), (110, 70, 210, 170))  # the edit: inside the mask
    out.paste((0, 0, 250), (0, 0, 20, 20))  # a change outside it
    ins = Instruction(text="Edit [ref#1] in [ref#2]: x", target_prompt="x", references=[
        Reference(marker="ref#1", kind="source", images=["src.png"]),
        Reference(marker="ref#2", kind="control", control="mask", images=["derived/mask/src.png"])])
    inst = Instance(id="i1", task="t", task_version=1, family="editing", instruction=ins, checklist=[])
    run = tmp_path / "run"
    (run / "images" / "i1").mkdir(parents=True)
    out.save(run / "images" / "i1" / "0.png")
    gen = types.SimpleNamespace(instance_id="i1", sample=0, image="images/i1/0.png")
    ctx = types.SimpleNamespace(ok=[gen], instances={"i1": inst}, root=DataRoot(root, derived_dir=root / "derived"),
                                store=types.SimpleNamespace(path=run), batch_size=2, num_workers=0,
                                extractors={"lpips": ext})
    got = LocalityKind().score(ctx, [get_metric("edit_lpips"), get_metric("edit_l1")])
    # direct: 256 x 192 working size, mask dilated by 8 px with a 17-px square, mean outside
    size, r = (LOCALITY["size"], 192), LOCALITY["dilate_px"]
    a = np.asarray(src.resize(size, Image.BICUBIC), np.float32) / 255
    b = np.asarray(out.resize(size, Image.BICUBIC), np.float32) / 255
    m = cv2.dilate((np.asarray(Image.fromarray(mask).resize(size, Image.NEAREST)) > 127).astype(np.uint8),
                   np.ones((2 * r + 1, 2 * r + 1), np.uint8)) == 0
    l1 = np.abs(a - b).mean(axis=2)[m].mean()
    ta, tb = (torch.from_numpy(x).permute(2, 0, 1)[None] * 2 - 1 for x in (a, b))
    with torch.no_grad():
        lp = package_lpips(backbone, spatial=True)(ta, tb)[0, 0].numpy()[m].mean()
    (row_l1,), (row_lp,) = got.rows["edit_l1"], got.rows["edit_lpips"]
    assert row_l1["value"] == pytest.approx(l1, rel=1e-5) and row_lp["value"] == pytest.approx(lp, rel=1e-4)
    assert row_l1["condition"] == "source:ref#1" and 0 < l1 < np.abs(a - b).mean()  # the edit itself is not counted


def test_lpips_diversity_is_the_mean_pairwise_lpips(lpips_ext, tmp_path, photos):
    from ibench.core.metrics import get_metric
    from ibench.evaluators.perceptual import DiversityKind

    ext, backbone = lpips_ext
    run = tmp_path / "run"
    gens = []
    for k, p in enumerate(photos):
        (run / "images" / "i1").mkdir(parents=True, exist_ok=True)
        p.save(run / "images" / "i1" / f"{k}.png")
        gens.append(types.SimpleNamespace(instance_id="i1", sample=k, image=f"images/i1/{k}.png"))
    ctx = types.SimpleNamespace(ok=gens, store=types.SimpleNamespace(path=run), extractors={"lpips": ext})
    rows = DiversityKind().score(ctx, [get_metric("lpips_diversity")]).rows["lpips_diversity"]
    t = [torch.from_numpy(np.asarray(p.resize((256, 256), Image.BICUBIC), np.float32) / 255).permute(2, 0, 1)[None]
         for p in photos]
    model = package_lpips(backbone, spatial=False)
    with torch.no_grad():
        d = {(i, j): float(model(t[i], t[j], normalize=True)) for i in range(3) for j in range(3) if i != j}
    for row in rows:
        k = row["sample"]
        assert row["value"] == pytest.approx(np.mean([d[(k, j)] for j in range(3) if j != k]), rel=0.02)
    assert np.mean([r["value"] for r in rows]) == pytest.approx(np.mean(list(d.values())), rel=0.02)


def test_lpips_weights_errors_are_one_line(monkeypatch, tmp_path):
    from ibench.evaluators.config import ExtractorConfig
    from ibench.evaluators.perceptual import Lpips

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(IbenchError, match=r"torchvision's alex weights \(alexnet-owt-7be5be79\.pth\).*lpips\.backbone"):
        Lpips(ExtractorConfig())
    with pytest.raises(IbenchError, match="not found"):
        Lpips(ExtractorConfig(lpips_backbone=str(tmp_path / "nope.pth")))


# -- CSD and DINOv2 ---------------------------------------------------------------------------------------
def test_csd_equals_a_direct_forward_of_the_checkpoint(tmp_path, photos):
    import open_clip
    from torchvision import transforms as T

    from ibench.evaluators.config import resolve_config
    from ibench.evaluators.csd import Csd
    from ibench.evaluators.tiny import save_tiny_csd

    cfg = save_tiny_csd(tmp_path / "csd")
    ext = Csd(resolve_config({"csd": cfg})).load()
    ours = ext.forward(torch.stack([ext.transform(p) for p in photos]))
    # direct: CSD_CLIP's forward, written out: a fresh open_clip tower whose projection *is* the style head
    state = torch.load(cfg["weights"], weights_only=True)["model_state_dict"]
    visual = open_clip.create_model(cfg["model"], pretrained=None).visual
    visual.load_state_dict({k[len("module.backbone."):]: v for k, v in state.items() if ".backbone." in k}, strict=False)
    visual.proj = torch.nn.Parameter(state["module.last_layer_style"])
    tf = T.Compose([T.Resize(32, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(32), T.ToTensor(),
                    T.Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))])
    with torch.no_grad():
        direct = torch.nn.functional.normalize(visual.eval()(torch.stack([tf(p) for p in photos])), dim=-1).numpy()
    np.testing.assert_allclose(ours, direct, rtol=1e-4, atol=1e-5)
    assert ours.shape == (3, 16)


def test_csd_weights_errors(tmp_path):
    from ibench.evaluators.config import ExtractorConfig
    from ibench.evaluators.csd import Csd

    with pytest.raises(IbenchError, match="CSD weights are not set: download .*csd.weights") as e:
        Csd(ExtractorConfig())
    assert "\n" not in str(e.value)
    bad = tmp_path / "x.pt"
    torch.save({"model_state_dict": {"module.backbone.conv1.weight": torch.zeros(1)}}, bad)
    with pytest.raises(IbenchError, match="no 'last_layer_style'"):
        Csd(ExtractorConfig(csd_weights=str(bad))).load()


def test_dinov2_equals_transformers_with_its_own_image_processor(tmp_path, photos):
    from transformers import AutoImageProcessor, Dinov2Model

    from ibench.evaluators.config import ExtractorConfig
    from ibench.evaluators.dino import Dinov2
    from ibench.evaluators.tiny import save_tiny_dinov2

    folder = save_tiny_dinov2(tmp_path / "d2")
    ext = Dinov2(ExtractorConfig(dinov2_model=folder)).load()
    ours = ext.forward(torch.stack([ext.transform(p) for p in photos]))
    model, proc = Dinov2Model.from_pretrained(folder).eval(), AutoImageProcessor.from_pretrained(folder)
    with torch.no_grad():
        cls = model(**proc(images=photos, return_tensors="pt")).pooler_output
    direct = torch.nn.functional.normalize(cls, dim=-1).numpy()
    # the processor and torchvision both resize the PIL image: inputs agree to 2e-2, features to 1e-4
    np.testing.assert_allclose(ours, direct, atol=ATOL_DINOV2)
    assert (ours * direct).sum(axis=1) == pytest.approx(1, abs=1e-4)


# -- ControlNet++'s exact mode ------------------------------------------------------------------------------
def test_exact_edge_f1_has_no_tolerance_on_hand_made_maps():
    from ibench.evaluators.control import edge_f1, edge_f1_exact

    from ibench.data.controls import canny

    square = np.zeros((64, 64, 3), np.uint8)
    square[16:48, 16:48] = 255

    edges = canny(Image.fromarray(square))
    shifted = np.zeros_like(square)
    shifted[17:49, 17:49] = 255  # one pixel down and right
    assert edge_f1_exact(Image.fromarray(square), edges) == 1.0
    exact, tolerant = edge_f1_exact(Image.fromarray(shifted), edges), edge_f1(Image.fromarray(shifted), edges)
    assert tolerant == 1.0 and exact < 0.6  # within 2 px everywhere, but few pixels coincide
    pred = np.asarray(canny(Image.fromarray(shifted))) > 127
    t = np.asarray(edges) > 127
    tp = (pred & t).sum()
    assert exact == pytest.approx(2 * tp / (pred.sum() + t.sum()))  # pixelwise F1 = 2TP / (|P| + |T|)


def test_depth_rmse_and_mask_iou_on_hand_made_maps(monkeypatch):
    from ibench.data import controls
    from ibench.evaluators.control import depth_rmse, mask_iou

    t = np.linspace(0, 1, 100).reshape(10, 10)
    assert depth_rmse(t, t) == 0 and depth_rmse(0.5 * t + 0.2, t) == pytest.approx(0, abs=1e-9)  # min-max normalised
    assert depth_rmse(1 - t, t) == pytest.approx(np.sqrt(np.mean((255 * (1 - 2 * t)) ** 2)))
    mask = np.zeros((20, 20), np.uint8)
    mask[0:10, :] = 255  # 200 px
    found = np.zeros((20, 20), np.uint8)
    found[5:15, :] = 255  # 200 px, 100 shared
    monkeypatch.setattr(controls, "grabcut_mask", lambda im: Image.fromarray(found))
    assert mask_iou(Image.new("RGB", (20, 20)), Image.fromarray(mask)) == pytest.approx(100 / 300)


# -- face identity ------------------------------------------------------------------------------------------
class StandIn:
    """A constructed analyzer: a 'face' is a pure red or green 16-px square; its embedding names the colour."""

    dim = 2

    def faces(self, bgr):
        out = []
        for colour, emb in (((0, 0, 255), [1.0, 0.0]), ((0, 255, 0), [0.6, 0.8])):
            ys, xs = np.nonzero((bgr == colour).all(axis=2))
            if len(ys):
                out.append((np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], float), np.array(emb) * 3))
        return out


def _picture(*squares) -> Image.Image:
    im = Image.new("RGB", (200, 100), (90, 90, 90))
    for colour, (x, y, side) in squares:
        im.paste(colour, (x, y, x + side, y + side))
    return im


def test_face_identity_on_a_constructed_case(tmp_path):
    """Largest face chosen; no face in an output = a recorded failure (no row, not a zero); a reference photo
    without a face is left out; values = cosines computed by hand."""
    from ibench.core.instance import Instance
    from ibench.core.instruction import Instruction, Reference
    from ibench.core.metrics import get_metric
    from ibench.core.paths import DataRoot
    from ibench.evaluators.cache import FeatureCache
    from ibench.evaluators.config import ExtractorConfig
    from ibench.evaluators.face import Face
    from ibench.evaluators.kinds import ReferenceHasher
    from ibench.evaluators.similarity import SimilarityKind

    red, green = (255, 0, 0), (0, 255, 0)
    root = tmp_path / "root"
    (root / "faces" / "p").mkdir(parents=True)
    _picture((red, (10, 10, 40))).save(root / "faces" / "p" / "00.png")  # the person: "red"
    _picture((red, (50, 20, 30))).save(root / "faces" / "p" / "01.png")
    _picture().save(root / "faces" / "p" / "02.png")  # no face: left out
    outputs = {0: _picture((red, (5, 5, 16)), (green, (60, 10, 60))),  # largest is green: cos = 0.6
               1: _picture((red, (5, 5, 60)), (green, (100, 10, 20))),  # largest is red: cos = 1
               2: _picture()}  # no face: a failure
    run = tmp_path / "run"
    (run / "images" / "i1").mkdir(parents=True)
    for k, im in outputs.items():
        im.save(run / "images" / "i1" / f"{k}.png")
    ins = Instruction(text="Show [ref#1]: a person", target_prompt="a person",
                      references=[Reference(marker="ref#1", kind="subject", images=["faces/p/00.png"])])
    inst = Instance(id="i1", task="face_gen", task_version=1, family="in_domain", instruction=ins, checklist=[])
    ext = Face(ExtractorConfig(face_model="tiny"))
    ext.load()
    ext.analyzer = StandIn()
    from ibench.core.paths import sha256_file

    gens = [types.SimpleNamespace(instance_id="i1", sample=k, image=f"images/i1/{k}.png",
                                  sha256=sha256_file(run / "images" / "i1" / f"{k}.png")) for k in outputs]
    ctx = types.SimpleNamespace(ok=gens, instances={"i1": inst}, root=DataRoot(root, derived_dir=tmp_path / "d"),
                                store=types.SimpleNamespace(path=run), batch_size=2, num_workers=0, progress=False,
                                extractors={"face": ext}, caches={"face": FeatureCache(ext.id, ext.preprocessing,
                                                                                       root=tmp_path / "cache")},
                                hasher=ReferenceHasher())
    out = SimilarityKind().score(ctx, [get_metric("face_id")])
    values = {r["sample"]: r["value"] for r in out.rows["face_id"]}
    assert values == pytest.approx({0: 0.6, 1: 1.0})  # the photo without a face is not a zero in the mean
    assert out.details["face_id"]["failures"] == {"no face detected in the output": 1}
    assert out.details["face_id"]["failed"] == [{"instance_id": "i1", "sample": 2, "condition": "subject:ref#1",
                                                 "reason": "no face detected in the output"}]


def test_face_extractor_errors_are_one_line(monkeypatch, tmp_path):
    from ibench.evaluators.config import ExtractorConfig
    from ibench.evaluators.face import Face

    monkeypatch.setitem(sys.modules, "insightface", None)  # not installed
    with pytest.raises(IbenchError, match=r"pip install 'ibench\[face\]'"):
        Face(ExtractorConfig())
    monkeypatch.setitem(sys.modules, "insightface", types.ModuleType("insightface"))
    monkeypatch.setitem(sys.modules, "onnxruntime", types.ModuleType("onnxruntime"))
    with pytest.raises(IbenchError, match=r"insightface model pack 'buffalo_l' not found in .*models/buffalo_l") as e:
        Face(ExtractorConfig(face_root=str(tmp_path)))
    assert "\n" not in str(e.value)
    pack = tmp_path / "models" / "buffalo_l"
    pack.mkdir(parents=True)
    (pack / "det_10g.onnx").write_bytes(b"x")
    assert Face(ExtractorConfig(face_root=str(tmp_path))).id.startswith("insightface:buffalo_l:")


# -- recipes ------------------------------------------------------------------------------------------------
def test_every_metric_declares_its_recipe_and_can_be_served():
    from ibench.core.metrics import BUILTIN_METRICS
    from ibench.evaluators.registry import EXTRACTORS, KINDS, get_kind

    for m in BUILTIN_METRICS:
        assert {"model", "preprocessing", "formula"} <= set(m.recipe), m.name
        assert isinstance(m.comparable_with, list)
        kind = get_kind(m.kind)
        assert m.kind in KINDS and kind.extractors([m]) <= set(EXTRACTORS), m.name
        kind.check(m)
    by = {m.name: m for m in BUILTIN_METRICS}
    assert by["dino_v2"].comparable_with == ["DreamBench++"] and "ControlNet++" in by["control_edge_exact"].comparable_with
    assert by["edit_lpips"].params == {"size": 256, "dilate_px": 8}
