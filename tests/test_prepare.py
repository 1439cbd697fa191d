"""`ibench data prepare`: depth through a tiny local model, Canny parity, masks, clear failures."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from tiny_models import tiny_depth_model

IMAGES = ["content/chicago.jpg", "content/sailboat.jpg", "dreambench/dog/00.jpg"]


@pytest.fixture(scope="module")
def depth_model(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    return tiny_depth_model(tmp_path_factory.mktemp("tiny-depth"))


@pytest.fixture
def root(shared_data, tmp_path):
    """A writable data root of three real images (plus DreamBench's prompts file)."""
    root = tmp_path / "data"
    for rel in IMAGES + ["dreambench/prompts_and_classes.txt"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared_data / rel, root / rel)
    return root



def _map(root, control: str, rel: str):
    return root / "derived" / control / (rel.rsplit(".", 1)[0] + ".png")


def test_depth_maps_are_written_once(root, depth_model, capsys, cli_code):
    assert cli_code("data", "prepare", "-d", root, "--controls", "depth", "--depth-model", depth_model) == 0
    assert capsys.readouterr().out.startswith("3 control maps written")
    stamps = {}
    for rel in IMAGES:
        path = _map(root, "depth", rel)
        with Image.open(root / rel) as src, Image.open(path) as made:
            assert made.size == src.size and made.mode == "L"
            arr = np.asarray(made)
        assert arr.min() == 0 and arr.max() == 255  # normalised relative depth
        stamps[rel] = path.stat().st_mtime_ns
    # a rerun recomputes nothing and does not even load the model
    assert cli_code("data", "prepare", "-d", root, "--controls", "depth", "--depth-model", root / "no-such-model") == 0
    assert capsys.readouterr().out.startswith("0 control maps written")
    assert {rel: _map(root, "depth", rel).stat().st_mtime_ns for rel in IMAGES} == stamps


def test_depth_through_the_python_api_matches_the_cli(root, depth_model, cli_code):
    from ibench.data.controls import depth

    with Image.open(root / IMAGES[0]) as im:
        made = depth([im.convert("RGB")], model=str(depth_model))[0]
    assert cli_code("data", "prepare", "-d", root, "--controls", "depth", "--depth-model", depth_model) == 0
    assert np.array_equal(np.asarray(made), np.asarray(Image.open(_map(root, "depth", IMAGES[0]))))


def test_uncached_hub_id_offline_is_one_clear_line(root, capsys, cli_code):
    missing = "ibench-tests/no-such-depth-model"
    code = cli_code("data", "prepare", "-d", root, "--controls", "edge,depth", "--depth-model", missing)
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert missing in err and "hf download" in err and "--controls edge" in err
    assert _map(root, "edge", IMAGES[0]).is_file()  # the maps made before depth are kept
    assert not (root / "derived" / "depth").exists()


def test_folder_that_is_not_a_depth_model(root, tmp_path, capsys, cli_code):
    junk = tmp_path / "junk-model"
    junk.mkdir()
    (junk / "config.json").write_text("{}")
    assert cli_code("data", "prepare", "-d", root, "--controls", "depth", "--depth-model", junk) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "could not be loaded" in err and str(junk) in err


def test_canny_maps_are_controlnets_annotator(root, cli_code):
    """Edge maps as ControlNet's Canny annotator makes them (lllyasviel/ControlNet annotator/util.py resize_image,
    controlnet_aux CannyDetector): shorter side to 512, sides rounded to multiples of 64 (Lanczos up, area
    down), OpenCV Canny (100, 200) on the colour image."""
    import cv2

    assert cli_code("data", "prepare", "-d", root, "--controls", "edge,mask,sketch") == 0
    for rel in IMAGES:
        rgb = cv2.cvtColor(cv2.imread(str(root / rel)), cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        k = 512 / min(h, w)
        size = (int(round(w * k / 64)) * 64, int(round(h * k / 64)) * 64)
        resized = cv2.resize(rgb, size, interpolation=cv2.INTER_LANCZOS4 if k > 1 else cv2.INTER_AREA)
        expected = cv2.Canny(resized, 100, 200)
        made = np.asarray(Image.open(_map(root, "edge", rel)))
        assert made.shape == expected.shape == (size[1], size[0]) and min(made.shape) == 512 and expected.any()
        assert np.array_equal(made, expected)


def test_masks_and_sketches(root, cli_code):
    assert cli_code("data", "prepare", "-d", root, "--controls", "mask,sketch") == 0
    for rel in IMAGES:
        size = Image.open(root / rel).size
        mask = np.asarray(Image.open(_map(root, "mask", rel)))
        assert mask.shape == size[::-1] and set(np.unique(mask)) <= {0, 255}
        assert 0.02 < (mask == 255).mean() < 0.98  # a foreground, not all or nothing
        sketch = np.asarray(Image.open(_map(root, "sketch", rel)))
        assert sketch.shape == size[::-1] and (sketch == 255).mean() > 0.5 and (sketch < 255).any()


def test_unknown_control_is_refused(root, capsys, cli_code):
    assert cli_code("data", "prepare", "-d", root, "--controls", "edge,normals") == 2
    assert "unknown control 'normals'" in capsys.readouterr().err
