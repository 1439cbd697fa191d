"""The editing, face and reference-scaling tasks: drawn from ../shared/data (faces from the synthetic set),
deterministic, valid, coherent, and run end to end with the tiny, references and folder models."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ibench.core.paths import DataRoot
from ibench.core.registry import get_task, task_files
from ibench.core.taskspec import load_task
from ibench.data import build_instances
from ibench.errors import IbenchError
from conftest import isolated

torch.set_num_threads(1)
EDITING = ["text_edit", "mask_edit", "subject_edit"]
SCALING = [f"subject_scaling_{n}" for n in range(1, 5)]
NEW = EDITING + ["face_gen"] + SCALING


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> DataRoot:
    from ibench.data.synthetic import ensure_synthetic

    base = tmp_path_factory.mktemp("synth")
    return DataRoot(ensure_synthetic(base / "synthetic-v2"), derived_dir=base / "derived")


def root_for(task: str, data_root: DataRoot, synthetic: DataRoot) -> DataRoot:
    return synthetic if task == "face_gen" else data_root


@pytest.mark.parametrize("task", NEW)
def test_builds_deterministically_and_validly(task, data_root, synthetic, cli):
    spec = get_task(task)
    root = root_for(task, data_root, synthetic)
    built = build_instances(spec, root, seed=0)
    assert len(built) == spec.instances and len({i.id for i in built}) == len(built)
    assert [i.model_dump() for i in build_instances(spec, root, seed=0)] == [i.model_dump() for i in built]
    assert [i.id for i in build_instances(spec, root, seed=1)] != [i.id for i in built]
    for inst in built:
        inst.instruction.check_files(root)
        assert [r.kind for r in inst.instruction.references] == [r.kind for r in spec.references]
        assert inst.instruction.target_prompt in inst.instruction.text and len(inst.checklist) == len(spec.checklist)
    assert len({i.instruction.text.replace(i.instruction.target_prompt, "") for i in built}) >= 2, "paraphrases"
    assert cli("validate", task_files()[task])[0] == 0


def test_editing_draws_are_coherent(data_root):
    text = build_instances(get_task("text_edit"), data_root)
    sources = [i.instruction.references[0].images[0] for i in text]
    assert any(s.startswith("content/") for s in sources) and any(s.startswith("dreambench/") for s in sources)
    for inst in text:
        if inst.meta["source_source"].startswith("content/"):  # a scene edit appended to the photo's caption
            assert inst.instruction.target_prompt.startswith(inst.instruction.references[0].caption + " ")
    for inst in build_instances(get_task("mask_edit"), data_root):
        (source,), (mask,) = (r.images for r in inst.instruction.references)
        assert source.startswith("dreambench/") and mask == f"derived/mask/{source.rsplit('.', 1)[0]}.png"
        assert inst.meta["source_class"] in inst.instruction.target_prompt
        assert np.asarray(Image.open(data_root.resolve(mask))).any(), "GrabCut found the subject"
    for inst in build_instances(get_task("subject_edit"), data_root):
        source, subject, mask = inst.instruction.references
        swapped_in = inst.meta["subjects"][0]
        assert not source.images[0].startswith(f"dreambench/{swapped_in}/"), "the subject differs from the source's"
        assert all(im.startswith(f"dreambench/{swapped_in}/") for im in subject.images)
        assert mask.images[0] == f"derived/mask/{source.images[0].rsplit('.', 1)[0]}.png"


def test_scaling_tasks_differ_only_in_the_number_of_references(data_root):
    groups = [build_instances(get_task(t), data_root) for t in SCALING]
    assert len({len(g) for g in groups}) == 1
    for k, row in enumerate(zip(*groups)):
        four = row[-1]
        for n, inst in enumerate(row, start=1):
            assert inst.meta["n_references"] == n and inst.meta["scene"] == four.meta["scene"]
            assert inst.meta["subjects"] == four.meta["subjects"][:n]
            assert [r.images for r in inst.instruction.references] == [r.images for r in four.instruction.references][:n]
            assert inst.instruction.target_prompt.endswith(four.meta["scene"])
        paraphrase = [get_task(t).templates.index(next(tp for tp in get_task(t).templates
                      if tp.split("[ref#1]")[0] == i.instruction.text.split("[ref#1]")[0] or
                      tp.startswith("Create") == i.instruction.text.startswith("Create")))
                      for t, i in zip(SCALING, row)]
        assert len(set(paraphrase)) == 1, (k, paraphrase)


def test_the_faces_pool_comes_from_the_synthetic_set_and_an_empty_pool_is_one_line(data_root, synthetic):
    from ibench.data.catalog import Catalog

    faces = Catalog(synthetic).faces
    assert len(faces) == 4 and all(len(f.images) == 4 and f.cls == "person" for f in faces)
    built = build_instances(get_task("face_gen"), synthetic, count=8)
    for inst in built:
        person = inst.meta["subjects"][0]
        assert all(im.startswith(f"faces/{person}/") for im in inst.instruction.references[0].images)
        assert inst.instruction.references[0].caption == "the person" and "person" in inst.instruction.target_prompt
    with pytest.raises(IbenchError, match="faces pool is empty.*faces/<identity>/NN.jpg") as err:
        build_instances(get_task("face_gen"), data_root, count=1)
    assert "\n" not in str(err.value)


EDIT_TASK = """
name: edit_check
family: editing
version: 1
description: test only
templates: ["Edit [ref#1] inside [ref#2]: {prompt}"]
references:
%s
prompts: %s
checklist: ["edited"]
"""
SOURCE = "  - {marker: ref#1, kind: source, pools: [%s]}"
MASK = "  - {marker: ref#2, kind: control, control: mask, pools: [same_source]}"


@pytest.mark.parametrize("refs, prompts, message", [
    ([SOURCE % "subject", MASK], "object_edit", None),
    ([SOURCE % "content", MASK], "subject", None),  # a source without an edit prompt is allowed
    ([SOURCE % "content", MASK], "object_edit", "needs the source drawn from pools: \\[subject\\]"),
    ([SOURCE % "subject", MASK], "replace", "prompts: replace needs a subject reference"),
    ([MASK.replace("ref#2", "ref#1"), SOURCE.replace("ref#1", "ref#2") % "subject"], "edit",
     "pool same_source needs a source reference before it"),
    (["  - {marker: ref#1, kind: subject}", MASK], "subject", "pool same_source needs a source reference"),
    (["  - {marker: ref#1, kind: subject}", "  - {marker: ref#2, kind: style}"], "edit", "needs a reference of kind source"),
])
def test_editing_spec_errors(tmp_path, refs, prompts, message):
    path = tmp_path / "edit_check.yaml"
    path.write_text(EDIT_TASK % ("\n".join(refs), prompts))
    if message is None:
        load_task(path)
    else:
        with pytest.raises(IbenchError, match=message):
            load_task(path)


def test_scaling_spec_errors(tmp_path):
    text = Path(task_files()["subject_scaling_2"]).read_text()
    path = tmp_path / "subject_scaling_2.yaml"
    path.write_text(text.replace("max_references: 4", "max_references: 1"))
    with pytest.raises(IbenchError, match="exceed max_references 1"):
        load_task(path)
    path.write_text(text.replace("prompts: scene", "prompts: subject"))
    with pytest.raises(IbenchError, match="scaling: prompts must be scene"):
        load_task(path)
    # the older tasks' hash (and so their run ids) does not see the new optional key
    assert get_task("style_subject").model_dump()["scaling"] is None


# -- end to end ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def e2e(tmp_path_factory, shared_data):
    """Every new task with tiny, references and folder (the tiny run's images): generated and scored."""
    from ibench.evaluators.options import ScoreOptions
    from ibench.evaluators.score import score_run
    from ibench.models import get_model
    from ibench.run import GenerateOptions, generate

    base = tmp_path_factory.mktemp("e2e")
    out: dict = {}
    with isolated(tmp_path_factory):
        from ibench.data.synthetic import ensure_synthetic

        synth = DataRoot(ensure_synthetic(base / "synthetic-v2"), derived_dir=base / "derived-s")
        real = DataRoot(shared_data, derived_dir=base / "derived")
        for task in NEW:
            spec, root = get_task(task), synth if task == "face_gen" else real
            metrics = list(spec.metrics)
            for name, model in (("tiny", get_model("tiny")), ("references", get_model("references"))):
                store, counts = generate(spec, model, root, GenerateOptions(out=base / name, limit=2, samples=2,
                                                                              progress=False))
                assert counts["failed"] == 0
                out[(task, name)] = (store, score_run(store.path, ScoreOptions(metrics=metrics, extractors="tiny", num_workers=0)))
            tiny = out[(task, "tiny")][0]
            folder = base / "made-elsewhere" / task
            for g in tiny.generations():
                (folder / g.instance_id).mkdir(parents=True, exist_ok=True)
                shutil.copy(tiny.path / g.image, folder / g.instance_id / f"{g.sample}.png")
            store, _ = generate(spec, get_model("folder", dir=str(folder), label="elsewhere"), root,
                                GenerateOptions(out=base / "folder", limit=2, samples=2, progress=False))
            out[(task, "folder")] = (store, score_run(store.path, ScoreOptions(metrics=metrics, extractors="tiny", num_workers=0)))
    return out


@pytest.mark.parametrize("task", NEW)
def test_end_to_end_with_tiny_references_and_folder(task, e2e):
    import json
    import jsonschema

    schema = json.loads((Path(__file__).resolve().parents[1] / "docs" / "results-schema.json").read_text())
    spec = get_task(task)
    for model in ("tiny", "references", "folder"):
        store, results = e2e[(task, model)]
        jsonschema.validate(results, schema)
        assert results["counts"]["scored"] == 4 and results["family"] == spec.family
        for name in spec.metrics:
            entry = results["metrics"][name]
            assert entry["skipped"] is None and entry["n"] == 2 and entry["mean"] is not None, (task, model, name)
            assert entry["recipe"]["formula"] and isinstance(entry["comparable_with"], list)
    tiny, folder = e2e[(task, "tiny")][1], e2e[(task, "folder")][1]
    for name in spec.metrics:  # the same images made elsewhere score the same
        assert folder["metrics"][name]["mean"] == pytest.approx(tiny["metrics"][name]["mean"], abs=1e-6)
    if task == "text_edit":  # the oracle returns the source itself: nothing changed outside (or inside) the mask
        refs = e2e[(task, "references")][1]["metrics"]
        assert refs["edit_l1"]["mean"] == pytest.approx(0, abs=1e-6) and refs["edit_lpips"]["mean"] < 1e-3
        assert tiny["metrics"]["edit_l1"]["mean"] > 0.01
