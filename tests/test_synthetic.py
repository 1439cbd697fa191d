"""The procedural data root: deterministic, the real layout, and every shipped task builds from it."""

from __future__ import annotations

import pytest
from PIL import Image

from tiny_models import tiny_depth_model


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}



@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory):
    """A synthetic root as `--data-dir synthetic` makes it (in a module-wide cache dir)."""
    from ibench.core.paths import DataRoot
    from ibench.data.synthetic import ensure_synthetic

    return DataRoot(ensure_synthetic(tmp_path_factory.mktemp("cache") / "synthetic-v2"))


@pytest.fixture
def cache(synthetic_root, monkeypatch):
    """Point the cache dir at the module's synthetic root, so `--data-dir synthetic` finds it."""
    monkeypatch.setenv("IBENCH_CACHE_DIR", str(synthetic_root.root.parent))


def test_deterministic_bytes(tmp_path):
    from ibench.data.synthetic import ensure_synthetic

    a, b = ensure_synthetic(tmp_path / "a"), ensure_synthetic(tmp_path / "b")
    files_a, files_b = _files(a), _files(b)
    assert files_a == files_b and len(files_a) > 30
    # reused, not redrawn
    stamp = (a / "captions.yaml").stat().st_mtime_ns
    assert ensure_synthetic(a) == a and (a / "captions.yaml").stat().st_mtime_ns == stamp
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folder left behind


def test_layout_matches_the_real_data_root(synthetic_root, shared_data):
    from ibench.data.catalog import Catalog
    from ibench.core.paths import DataRoot

    synth, real = Catalog(synthetic_root), Catalog(DataRoot(shared_data))
    assert synthetic_root.root.name == "synthetic-v2"
    assert {k: len(v) for k, v in synth.prompts.items()} == {k: len(v) for k, v in real.prompts.items()}
    assert synth.scenes and len(synth.subjects) >= 6
    assert any(s.live for s in synth.subjects) and any(not s.live for s in synth.subjects)
    for s in synth.subjects:
        assert 3 <= len(s.images) <= 5 and all(im.startswith(f"dreambench/{s.name}/") for im in s.images)
        with Image.open(synthetic_root.resolve(s.images[0])) as im:
            assert im.size == (256, 256) and im.format == "JPEG"
        views = [Image.open(synthetic_root.resolve(p)).tobytes() for p in s.images]
        assert len(set(views)) == len(views)  # each view differs
    for pool in ("styledrop", "classic", "content"):
        photos = synth.photos(pool)
        assert len(photos) >= 4
        assert all(p.caption in synth.captions.values() for p in photos)  # the root's own captions.yaml
    # the same text structure as DreamBench's file: headers and prompt-list brackets
    heads = {"Classes", "subject_name,class", "Prompts", "Object Prompts", "Live Subject Prompts", "prompt_list = [", "]"}
    lines = lambda root: [ln for ln in (root / "dreambench/prompts_and_classes.txt").read_text().splitlines() if ln in heads]
    assert lines(synthetic_root.root) == lines(shared_data)


def test_every_shipped_task_builds_from_it(synthetic_root):
    from ibench.data import build_instances
    from ibench.core.registry import all_tasks

    specs = all_tasks()
    assert len(specs) >= 12
    for spec in specs:
        built = build_instances(spec, synthetic_root)
        assert len(built) == spec.instances, spec.name
        ids = [i.id for i in built]
        assert len(set(ids)) == len(ids), spec.name
        for inst in built:
            inst.instruction.check_files(synthetic_root)
        again = build_instances(spec, synthetic_root, count=5)
        assert [i.id for i in again] == ids[:5], spec.name


def test_depth_maps_ship_and_a_tiny_depth_model_can_replace_them(synthetic_root, tmp_path):
    import torch

    from ibench.data.catalog import Catalog
    from ibench.data.controls import derived_path, prepare
    from ibench.data import build_instances
    from ibench.core.paths import DataRoot
    from ibench.core.registry import get_task

    catalog = Catalog(synthetic_root)
    sources = [p.image for p in catalog.photos("content")] + [im for s in catalog.subjects for im in s.images]
    for rel in sources:  # the drawn maps: one per source, its size, near (subject) brighter than far
        with Image.open(synthetic_root.resolve(rel)) as src, Image.open(synthetic_root.resolve(derived_path("depth", rel))) as d:
            assert d.size == src.size and d.mode == "L" and d.getextrema()[1] > d.getextrema()[0]
    # on a copy without the drawn maps, `prepare` makes the depth maps with a (tiny) depth model
    import shutil

    torch.set_num_threads(1)
    model = tiny_depth_model(tmp_path / "tiny-depth")
    shutil.copytree(synthetic_root.root, tmp_path / "root", ignore=shutil.ignore_patterns("derived"))
    elsewhere = DataRoot(tmp_path / "root", derived_dir=tmp_path / "derived")
    assert prepare(elsewhere, ["depth"], sources, depth_model=str(model)) == len(sources)
    built = build_instances(get_task("depth2img"), elsewhere)
    assert built and all(i.instruction.references[0].images[0].startswith("derived/depth/") for i in built)


def test_validate_against_synthetic(cache, capsys, cli_code):
    assert cli_code("validate", "--data-dir", "synthetic") == 0
    out = capsys.readouterr()
    assert out.out.count("ok ") >= 12 and "error" not in out.err


def test_synth_command_and_refusal(tmp_path, capsys, cli_code):
    assert cli_code("data", "synth", "--out", tmp_path / "s") == 0
    assert str(tmp_path / "s") in capsys.readouterr().out
    assert (tmp_path / "s" / "dreambench" / "prompts_and_classes.txt").is_file()
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    assert cli_code("data", "synth", "--out", other, "--force") == 2
    assert "not a synthetic data root" in capsys.readouterr().err
    assert (other / "notes.txt").read_text() == "keep me"
