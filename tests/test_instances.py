"""Every shipped task builds its default instances from the real images, deterministically."""

import pytest

from ibench.data import build_instances
from ibench.core.registry import all_tasks, get_task

#: Tasks that build from ../shared/data as it is (depth maps need a model; it has no faces pool: the synthetic set's
#: faces are tested in tests/test_tasks_new.py)
CHEAP_TASKS = [s.name for s in all_tasks()
               if not any(r.control == "depth" or "faces" in r.pools for r in s.references)]


@pytest.mark.parametrize("name", CHEAP_TASKS)
def test_default_instances_build_and_are_valid(name, data_root):
    spec = get_task(name)
    built = build_instances(spec, data_root, seed=0)
    assert len(built) == spec.instances
    ids = [i.id for i in built]
    assert len(set(ids)) == len(ids), "no duplicate ids"
    for inst in built:
        assert inst.task == name and inst.family == spec.family
        kinds = [r.kind for r in inst.instruction.references]
        assert kinds == [r.kind for r in spec.references]
        inst.instruction.check_files(data_root)  # every image inside the root and decodable
        assert inst.instruction.target_prompt in inst.instruction.text
        assert len(inst.checklist) == len(spec.checklist)
    again = build_instances(spec, data_root, seed=0)
    assert [i.model_dump() for i in again] == [i.model_dump() for i in built], "same seed, same instances"


def test_seed_limit_and_coverage(data_root):
    spec = get_task("style_subject")
    a = build_instances(spec, data_root, seed=0)
    b = build_instances(spec, data_root, seed=1)
    assert [i.id for i in a] != [i.id for i in b]
    assert [i.id for i in build_instances(spec, data_root, seed=0, count=5)] == [i.id for i in a[:5]]
    subjects = {i.meta["subjects"][0] for i in a}
    assert len(subjects) == 30, "50 instances cycle through all 30 DreamBench subjects"
    styles = {i.instruction.references[1].images[0] for i in a}
    assert not any(s.endswith(("brushstrokes.jpg", "flower_of_life.jpg", "sketch.jpg")) for s in styles), \
        "style images of unstated licence are never drawn"


def test_compositions_are_coherent(data_root):
    multi = build_instances(get_task("multi_subject"), data_root, count=20)
    for inst in multi:
        a, b = inst.meta["subjects"]
        assert a != b
    sc = build_instances(get_task("subject_control"), data_root, count=10)
    for inst in sc:
        subject_views = inst.instruction.references[0].images
        source = inst.meta["control_source"]
        assert source.startswith(f"dreambench/{inst.meta['subjects'][0]}/") and source not in subject_views
        assert inst.instruction.references[1].images[0].startswith("derived/edge-v2/")
    st = build_instances(get_task("style_transfer"), data_root, count=5)
    assert all(i.instruction.target_prompt and i.meta["content_source"].startswith("content/") for i in st)


def test_dreambench_prompts_parsed(data_root):
    from ibench.data.catalog import Catalog

    cat = Catalog(data_root)
    assert len(cat.subjects) == 30 and len(cat.prompts["object"]) == 25 and len(cat.prompts["live"]) == 25
    dog = next(s for s in cat.subjects if s.name == "dog")
    assert dog.live and "a dog wearing a red hat" in cat.subject_prompts(dog)
    assert "in the jungle" in cat.scenes


def test_depth_task_builds_after_prepare_with_a_local_depth_model(data_root, tmp_path, cli):
    """depth2img needs depth maps: missing → a clear error; prepared with a (tiny) depth model → builds."""
    from ibench.errors import IbenchError
    from tiny_models import tiny_depth_model

    spec = get_task("depth2img")
    with pytest.raises(IbenchError, match="ibench data prepare --controls depth"):
        build_instances(spec, data_root, count=3)
    model = tiny_depth_model(tmp_path / "depth-model")
    from ibench.data.catalog import Catalog
    from ibench.data.controls import prepare

    cat = Catalog(data_root)
    sources = [p.image for p in cat.photos("content")] + [im for s in cat.subjects for im in s.images]
    assert prepare(data_root, ["depth"], sources, depth_model=str(model)) == len(sources)
    built = build_instances(spec, data_root)
    assert len(built) == spec.instances and len({i.id for i in built}) == len(built)
    for inst in built:
        inst.instruction.check_files(data_root)
        assert inst.instruction.references[0].images[0].startswith("derived/depth/")
