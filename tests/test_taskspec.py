"""Task YAML files: strict validation naming file and key; all shipped tasks valid."""

from pathlib import Path

import pytest

from ibench.errors import IbenchError
from ibench.core.registry import all_tasks, get_task, task_files
from ibench.core.taskspec import load_task

REQUIRED = {"txt2img", "edge2img", "depth2img", "mask2img", "style_gen", "subject_gen", "style_transfer",
            "style_subject", "multi_subject", "subject_control", "style_control", "style_subject_control"}


def test_shipped_tasks_cover_the_paper_and_validate():
    specs = {s.name: s for s in all_tasks()}
    assert REQUIRED <= set(specs)
    for name, spec in specs.items():
        assert len(spec.templates) >= 2, f"{name}: several paraphrased templates"
        assert spec.checklist and spec.metrics
    assert specs["style_subject"].family == "zero_shot" and specs["txt2img"].family == "in_domain"
    assert len(specs["style_subject_control"].references) == 3


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


BASE = Path(task_files()["style_gen"]).read_text()


def test_unknown_key_names_file_and_key(tmp_path):
    path = write(tmp_path, "style_gen", BASE + "colour: blue\n")
    with pytest.raises(IbenchError, match=r"style_gen.yaml: key 'colour': unknown key"):
        load_task(path)


def test_nested_unknown_key(tmp_path):
    path = write(tmp_path, "style_gen", BASE.replace("    kind: style\n", "    kind: style\n    weight: 2\n"))
    with pytest.raises(IbenchError, match=r"key 'references.0.weight': unknown key"):
        load_task(path)


def test_duplicate_key_rejected(tmp_path):
    path = write(tmp_path, "style_gen", BASE + "samples: 8\n")
    with pytest.raises(IbenchError, match=r"style_gen.yaml: duplicate key 'samples'"):
        load_task(path)


def test_template_marker_not_defined(tmp_path):
    path = write(tmp_path, "style_gen", BASE.replace("in the style of [ref#1]: {prompt}", "in the style of [ref#2]: {prompt}"))
    with pytest.raises(IbenchError, match=r"templates\[0\]"):
        load_task(path)


def test_name_must_match_file_and_bad_values(tmp_path):
    with pytest.raises(IbenchError, match="must match the file name"):
        load_task(write(tmp_path, "other", BASE))
    with pytest.raises(IbenchError, match="key 'family'"):
        load_task(write(tmp_path, "style_gen", BASE.replace("family: in_domain", "family: sometimes")))
    with pytest.raises(IbenchError, match="invalid YAML"):
        load_task(write(tmp_path, "style_gen", "name: [unclosed\n"))


def test_unknown_task_suggests():
    with pytest.raises(IbenchError, match="did you mean 'style_subject'"):
        get_task("style_subjct")


def test_user_task_dirs(tmp_path, monkeypatch):
    write(tmp_path, "my_style", BASE.replace("name: style_gen", "name: my_style"))
    monkeypatch.setenv("IBENCH_TASKS_PATH", str(tmp_path))
    assert get_task("my_style").name == "my_style"


@pytest.mark.parametrize("old,new,message", [
    ("metrics: [clip_t, style_clip, style_gram, copy_rate]", "metrics: [clip_t, nometric]",
     r"key 'metrics.1': unknown metric 'nometric' \(known: .*clip_t"),
    ("metrics: [clip_t, style_clip, style_gram, copy_rate]", "metrics: [clip_t, fid]", r"key 'metrics.1': 'fid' belongs under 'set_metrics'"),
    ("set_metrics: [fid, kid]", "set_metrics: [fid, kdi]", r"key 'set_metrics.1': unknown set metric 'kdi'"),
    ("pools: [styledrop, classic]\n", "pools: [styledrop, classic]\n    caption: 'the {nope}'\n",
     r"caption 'the \{nope\}': unknown field \{nope\}"),
    ("pools: [styledrop, classic]\n", "pools: [styledrop, classic]\n    caption: 'the {0}'\n", r"unknown field \{0\}"),
])
def test_metric_names_and_caption_fields_are_checked(tmp_path, old, new, message):
    assert old in BASE
    with pytest.raises(IbenchError, match=r"style_gen.yaml: .*" + message):
        load_task(write(tmp_path, "style_gen", BASE.replace(old, new, 1)))


def test_every_shipped_task_names_its_reference_set_and_txt2img_not_the_subject_photos():
    specs = {s.name: s for s in all_tasks()}
    for name, spec in specs.items():
        if spec.set_metrics:
            assert spec.reference_set is not None and len(spec.reference_set.reason) > 40, name
    assert specs["txt2img"].reference_set.pools == ["content"]
    assert specs["subject_gen"].reference_set.pools == ["dreambench"]


def test_run_id_is_unchanged_by_reference_set_and_metrics():
    """reference_set (like metrics) is not a generation field: the CI run id stays style_subject-tiny-7d6fc1a3c2."""
    from ibench.core.taskspec import GENERATION_FIELDS

    import json

    spec = get_task("style_subject")
    committed = json.loads((Path(__file__).resolve().parents[1] / "reports/baselines/tiny.json").read_text())["run"]
    assert committed["run_id"] == "style_subject-tiny-7d6fc1a3c2" and committed["spec_hash"] == spec.spec_hash()
    assert "reference_set" not in GENERATION_FIELDS
    changed = spec.model_copy(update={"reference_set": None, "metrics": ["clip_t"]})
    assert changed.spec_hash() == spec.spec_hash()


def test_a_missing_reference_set_says_exactly_what_to_add(tmp_path):
    text = BASE.split("reference_set:")[0] + "checklist:" + BASE.split("checklist:")[1]
    with pytest.raises(IbenchError) as err:
        load_task(write(tmp_path, "style_gen", text))
    message = str(err.value)
    assert "\n" not in message and "key 'reference_set' is required" in message
    assert "add `reference_set: {pools: [styledrop, classic], reason:" in message
    fixed = text.replace("checklist:", "reference_set: {pools: [styledrop, classic], reason: \"the styles shown\"}\n"
                                       "checklist:")
    assert load_task(write(tmp_path, "style_gen", fixed)).reference_set.pools == ["styledrop", "classic"]
    no_sets = text.replace("set_metrics: [fid, kid]\n", "")
    assert load_task(write(tmp_path, "style_gen", no_sets)).reference_set is None  # nothing to compare
    with pytest.raises(IbenchError, match=r"key 'reference_set.pools.0'"):
        load_task(write(tmp_path, "style_gen", fixed.replace("[styledrop, classic], reason", "[subjects], reason")))
