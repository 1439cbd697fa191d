"""Each pack's test set fetched from a loopback hub in its on-hub format, verified, converted to ibench
instances (references of the right kind, the anchor's text kept), and refused when it does not verify."""

from __future__ import annotations

import dataclasses
import json

import pytest

from fake_datasets import COMMIT, FakeDatasetHub, build_datasets
from ibench.core.instruction import MARKER
from ibench.core.paths import DataRoot
from ibench.errors import IbenchError
from ibench.packs import PACKS, get_pack, hub


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hub")
    repos = build_datasets(folder)
    with FakeDatasetHub(repos) as fake:
        yield fake, tmp_path_factory.mktemp("hfcache")


@pytest.fixture(autouse=True)
def online(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # the suite runs with HF_HUB_OFFLINE=1


def unpinned(dataset):
    """The pack's dataset at the fake's commit, verified against the fake hub's listing (its pins are for
    the real files)."""
    return dataclasses.replace(dataset, revision=COMMIT, pins={})


def fetch_and_convert(pack, served, root):
    fake, cache = served
    snaps = [hub.download(unpinned(d), endpoint=fake.url, cache_dir=cache) for d in pack.datasets]
    hub.record(snaps, root / "packs" / pack.name)
    return pack.convert({s.repo: s.folder for s in snaps}, root), snaps


def check_instances(done, root):
    data_root = DataRoot(root)
    ids = [i.id for i in done.instances]
    assert len(ids) == len(set(ids))
    for inst in done.instances:
        assert inst.meta["anchor_key"] and set(MARKER.findall(inst.instruction.text)) == \
            {r.marker for r in inst.instruction.references}
        inst.instruction.check_files(data_root)  # every reference image is in the root and decodes


def test_dreambench_plus_concepts_become_subject_and_style_references(served, tmp_path):
    done, snaps = fetch_and_convert(get_pack("dreambench_plus"), served, tmp_path)
    check_instances(done, tmp_path)
    assert len(done.instances) == 27 and snaps[0].files["data.zip"]["checked_against"] == "hub LFS sha256"
    kitten = next(i for i in done.instances if i.meta["anchor_key"] == "live_subject_animal_00_kitten-1")
    assert kitten.instruction.text == "a [ref#1] in the snow" and kitten.instruction.references[0].kind == "subject"
    assert kitten.instruction.target_prompt == kitten.meta["anchor_text"] == "a kitten in the snow"
    style = next(i for i in done.instances if i.meta["collection_id"] == "style_01_ukiyo-e")
    assert style.instruction.references[0].kind == "style" and style.instruction.text.endswith("in the style of [ref#1]")
    rolls = [i for i in done.instances if i.meta["category"] == "object"]
    assert rolls[0].meta["collection_id"] == "object_03_rolls-royce_hood_ornament"  # the anchor's id rule
    assert [i.meta["prompt_group"] for i in rolls][::4] == ["photorealistic", "style_transfer", "imaginative"]
    source = json.loads((tmp_path / "packs" / "dreambench_plus" / "SOURCE.json").read_text())
    assert source["datasets"][0]["commit"] == COMMIT


def test_the_real_pin_refuses_a_different_archive(served):
    fake, cache = served
    real = dataclasses.replace(get_pack("dreambench_plus").datasets[0], revision=COMMIT)
    with pytest.raises(IbenchError, match="data.zip does not match the ibench pin"):
        hub.download(real, endpoint=fake.url, cache_dir=cache)


def test_omnicontext_images_become_numbered_references_and_the_scene_its_own_kind(served, tmp_path):
    done, _ = fetch_and_convert(get_pack("omnicontext"), served, tmp_path)
    check_instances(done, tmp_path)
    by = {i.meta["anchor_key"]: i for i in done.instances}
    assert by["0002"].instruction.text == "Put the cup in [ref#2] next to the lamp in [ref#1]."
    scene = by["0003"].instruction
    assert scene.text.startswith("[ref#1] [ref#2]: ") and by["0003"].meta["unmentioned_images"] == [1, 2]
    assert [r.kind for r in scene.references] == ["subject", "scene"]  # the scene image: its own kind


def test_gedit_rows_become_source_references_per_language(served, tmp_path):
    done, _ = fetch_and_convert(get_pack("gedit_bench"), served, tmp_path)
    check_instances(done, tmp_path)
    assert sorted(i.meta["language"] for i in done.instances) == ["cn"] + ["en"] * 12
    cn = next(i for i in done.instances if i.meta["language"] == "cn")
    assert cn.instruction.text == "Edit [ref#1]: 把车变成红色" and cn.instruction.references[0].kind == "source"
    en = next(i for i in done.instances if i.meta["anchor_key"] == "a1b2c3" and i.meta["language"] == "en")
    assert cn.meta["intersection"] is True and cn.id != en.id


def test_imagenhub_sub_tasks_convert_and_unusable_rows_are_counted(served, tmp_path):
    done, _ = fetch_and_convert(get_pack("imagenhub"), served, tmp_path)
    check_instances(done, tmp_path)
    by = {i.meta["subset"]: i for i in done.instances}
    assert set(by) == {"text_guided_ie", "subject_driven_ig", "multi_concept_ic", "control_guided_ig", "subject_driven_ie"}
    assert by["subject_driven_ig"].instruction.text == "a [ref#1] in the jungle"
    assert len(by["subject_driven_ig"].instruction.references[0].images) == 2  # both DreamBooth photos of dog2
    assert by["multi_concept_ic"].instruction.text == "a [ref#1] sitting on a [ref#2]"
    assert by["control_guided_ig"].instruction.references[0].control == "edge"
    assert [r.kind for r in by["subject_driven_ie"].instruction.references] == ["source", "subject"]
    assert sorted(why.split()[0] for _, why in done.skipped) == ["control", "subject"]  # openpose; teapot not in concepts


def test_a_corrupted_download_and_an_unknown_revision_are_one_line_errors(served, tmp_path):
    fake, _ = served
    dataset = unpinned(get_pack("omnicontext").datasets[0])
    fake.corrupt.add("OmniGen2/OmniContext/data/train-00000-of-00001.parquet")
    try:
        with pytest.raises(IbenchError, match="does not match the hub LFS sha256"):
            hub.download(dataset, endpoint=fake.url, cache_dir=tmp_path / "fresh")
    finally:
        fake.corrupt.clear()
    with pytest.raises(IbenchError, match="has no revision"):
        hub.download(dataclasses.replace(dataset, revision="f" * 40), endpoint=fake.url, cache_dir=tmp_path / "fresh")
    with pytest.raises(IbenchError, match="not on the hub"):
        hub.download(dataclasses.replace(dataset, repo="OmniGen2/Nothing"), endpoint=fake.url, cache_dir=tmp_path / "f")


def test_an_unpinned_dataset_records_the_commit_main_resolved_to(served, tmp_path):
    fake, cache = served
    snap = hub.download(dataclasses.replace(get_pack("gedit_bench").datasets[0], revision=None), endpoint=fake.url,
                        cache_dir=cache)
    assert snap.commit == COMMIT and snap.pinned is False
    assert {f["checked_against"] for f in snap.files.values()} == {"hub LFS sha256", "hub git blob id"}


def test_every_pack_converts_from_the_fake_hub(served, tmp_path):
    counts = {name: len(fetch_and_convert(pack, served, tmp_path / name)[0].instances) for name, pack in PACKS.items()}
    assert counts == {"dreambench_plus": 27, "omnicontext": 4, "gedit_bench": 13, "imagenhub": 5}


def test_fetched_instances_are_written_and_read_back_as_task_instances(served, tmp_path):
    from ibench.packs import tasks

    pack = get_pack("imagenhub")
    done, _ = fetch_and_convert(pack, served, tmp_path)
    paths = tasks.write_instances(done.instances, tmp_path, pack)
    assert len(paths) == 5 and all(p.name.startswith("instances-") for p in paths)
    back = tasks.read_instances(tmp_path, pack, "subject_driven_ie")
    assert back[0].task == "pack_imagenhub_subject_driven_ie" and back[0].family == "editing"
    assert back[0].instruction == next(i for i in done.instances if i.id == back[0].id).instruction
    gedit = get_pack("gedit_bench")
    done, _ = fetch_and_convert(gedit, served, tmp_path)
    tasks.write_instances(done.instances, tmp_path, gedit)
    assert [i.meta["anchor_key"] for i in tasks.read_instances(tmp_path, gedit)] == \
        [i.meta["anchor_key"] for i in done.instances]
    with pytest.raises(IbenchError, match="name a subset"):
        tasks.task_spec(pack)
    with pytest.raises(IbenchError, match="ibench data fetch --pack omnicontext"):
        tasks.read_instances(tmp_path, get_pack("omnicontext"))


def test_a_shard_without_the_anchors_column_or_with_a_broken_image_is_one_line(tmp_path):
    from fake_datasets import TEXT, write_parquet
    from ibench.packs import rows

    shard = tmp_path / "data" / "train-00000-of-00001.parquet"
    write_parquet(shard, [{"key": "1", "instruction": "x"}], {"key": TEXT, "instruction": TEXT})
    with pytest.raises(IbenchError, match=r"no column 'task_type' \(columns: key, instruction\)"):
        list(rows.read_rows(rows.split_files(tmp_path, "train"), ("key", "task_type")))
    with pytest.raises(IbenchError, match="no parquet or arrow file of split 'eval'"):
        rows.split_files(tmp_path, "eval")
    with pytest.raises(IbenchError, match="row 1: the image bytes do not decode"):
        rows.save_image(b"not an image", tmp_path, "x", "row 1")


def test_imagenhub_concepts_of_the_same_name_in_both_concept_sets_stay_apart(tmp_path):
    """DreamBooth's and Custom Diffusion's concept sets both name a concept "cat": each instance keeps its own."""
    from PIL import Image

    from fake_datasets import IMAGE, INT, TEXT, cell, image, write_parquet
    from ibench.packs import imagenhub

    def shard(repo: str, split: str, rows: list[dict], features: dict) -> None:
        write_parquet(tmp_path / "hub" / repo / "data" / f"{split}-00000-of-00001.parquet", rows, features)

    shard(imagenhub.CONCEPTS, "train", [{"subject": "cat", "image": cell(image((250, 0, 0)))}],
          {"subject": TEXT, "image": IMAGE})
    shard(imagenhub.SDIG, "eval", [{"uid": 1, "subject": "cat", "prompt": "a <token> cat on a sofa"}],
          {"uid": INT, "subject": TEXT, "prompt": TEXT})
    shard(imagenhub.MULTI_CONCEPTS, "train", [{"concept": "cat", "image": cell(image((0, 0, 250)))},
                                              {"concept": "chair", "image": cell(image((0, 250, 0)))}],
          {"concept": TEXT, "image": IMAGE})
    shard(imagenhub.MSDIG, "train", [{"uid": 3, "prompt": "a cat on a chair", "concept1": "cat", "concept2": "chair"}],
          {"uid": INT, "prompt": TEXT, "concept1": TEXT, "concept2": TEXT})
    snaps = {repo: tmp_path / "hub" / repo for repo in
             (imagenhub.CONCEPTS, imagenhub.SDIG, imagenhub.MULTI_CONCEPTS, imagenhub.MSDIG)}
    root = tmp_path / "root"
    by = {i.meta["subset"]: i for i in imagenhub.convert(snaps, root).instances}

    def colour(inst) -> tuple:
        return Image.open(root / inst.instruction.references[0].images[0]).convert("RGB").getpixel((24, 24))

    assert colour(by["subject_driven_ig"])[0] > 200 and colour(by["multi_concept_ic"])[2] > 200


def test_a_row_with_an_empty_text_field_is_skipped_and_counted(tmp_path):
    from fake_datasets import IMAGE, TEXT, cell, image, write_parquet
    from ibench.packs import omnicontext, rows

    features = {"key": TEXT, "task_type": TEXT, "instruction": TEXT, "instruction_language": TEXT,
                "input_images": [IMAGE]}
    ok = {"key": "1", "task_type": "single_character", "instruction": "The man from image 1 reads",
          "instruction_language": "en", "input_images": [cell(image((9, 9, 9)))]}
    shard = tmp_path / omnicontext.DATASET / "data" / f"{omnicontext.SPLIT}-00000-of-00001.parquet"
    write_parquet(shard, [ok, {**ok, "key": "2", "instruction": None}, {**ok, "key": "3", "instruction_language": " "}],
                  features)
    done = omnicontext.convert({omnicontext.DATASET: tmp_path / omnicontext.DATASET}, tmp_path / "root")
    assert [i.meta["anchor_key"] for i in done.instances] == ["1"]
    assert [why for _, why in done.skipped] == ["field 'instruction' is empty", "field 'instruction_language' is empty"]
    with pytest.raises(IbenchError, match=r"row 2: field 'instruction' is empty"):
        list(rows.read_rows([shard], ("key", "instruction"), text=("instruction",)))


def test_a_fetched_pack_is_read_offline_and_an_unpinned_one_refetched_online(served, tmp_path, monkeypatch):
    from ibench.packs.fetch import fetch_pack

    fake, cache = served
    pack = get_pack("omnicontext")  # unpinned: main is resolved and recorded
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    first = fetch_pack(pack, tmp_path, endpoint=fake.url, cache_dir=cache)
    assert first.downloaded and first.instances == 4 and first.files[0].name == "instances.jsonl"
    assert json.loads((tmp_path / "packs" / "omnicontext" / "SOURCE.json").read_text())["datasets"][0]["pinned"] is False
    again = fetch_pack(pack, tmp_path, endpoint=fake.url, cache_dir=cache)
    assert again.downloaded  # online, an unpinned dataset is asked for again: its main may have moved
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    offline = fetch_pack(pack, tmp_path, endpoint="http://127.0.0.1:9", cache_dir=cache)
    assert not offline.downloaded and offline.instances == 4
