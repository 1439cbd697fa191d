"""End to end: every metric on tiny runs of the tiny model, scored with tiny extractors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from ibench.errors import IbenchError
from ibench.evaluators.tiny import save_tiny_extractors
from conftest import isolated

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
CONTROLS_TASK = """
name: eval_controls
family: in_domain
version: 1
description: mask and depth controls (test only)
templates: ["Follow the mask [ref#1] and the depth map [ref#2]: {prompt}"]
references:
  - {marker: ref#1, kind: control, control: mask, pools: [content]}
  - {marker: ref#2, kind: control, control: depth, pools: [content]}
prompts: content
checklist: ["follows the maps"]
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory, shared_data):
    """Tiny extractors, a data root with a private derived dir, and the runs (made once per module)."""
    from ibench.data import controls
    from ibench.data.catalog import Catalog
    from ibench.models import get_model
    from ibench.core.paths import DataRoot
    from ibench.core.registry import get_task
    from ibench.run import GenerateOptions, generate

    base = tmp_path_factory.mktemp("eval")
    with isolated(tmp_path_factory):
        config = save_tiny_extractors(base / "extractors")
        cfg_file = base / "extractors.yaml"
        cfg_file.write_text(yaml.safe_dump(config))
        root = DataRoot(shared_data, derived_dir=base / "derived")
        runs = {}
        for task, limit, samples in (("style_subject_control", 2, 2), ("multi_subject", 1, 1)):
            runs[task] = generate(get_task(task), get_model("tiny"), root, GenerateOptions(out=base / "runs", limit=limit,
                                  samples=samples, progress=False))[0].path
        controls.prepare(root, ["depth"], [p.image for p in Catalog(root).photos("content")],
                         depth_model=config["depth"]["model"])
        task_file = base / "eval_controls.yaml"
        task_file.write_text(CONTROLS_TASK)
        runs["eval_controls"] = generate(get_task(str(task_file)), get_model("tiny"), root, GenerateOptions(out=base / "runs",
                                         limit=2, samples=1, progress=False))[0].path
    return {"config": config, "file": cfg_file, "root": root, "runs": runs}


def _validate(results: dict) -> None:
    import jsonschema

    jsonschema.validate(results, json.loads((ROOT / "docs" / "results-schema.json").read_text()))


def test_all_metrics_end_to_end_with_failures_skipped(env):
    from ibench.evaluators.results import load_results, load_scores
    from ibench.core.rundir import Generation, RunStore

    store = RunStore(env["runs"]["style_subject_control"])
    first = store.generations()[0]
    store.append_generations([Generation(instance_id=first.instance_id, sample=5, seed=1, error="RuntimeError: boom")])
    from ibench.evaluators.options import ScoreOptions
    from ibench.evaluators.score import score_run

    results = score_run(store.path, ScoreOptions(extractors=env["config"], data_root=env["root"], num_workers=2, batch_size=3))
    _validate(results)
    assert results == load_results(store.path).as_json()
    assert results["counts"] == {"instances": 2, "samples": 5, "failed": 1, "scored": 4}
    expected = {"clip_t": "text", "dino": "subject:ref#1", "clip_i": "subject:ref#1", "style_clip": "style:ref#2",
                "style_gram": "style:ref#2", "control_edge": "control:ref#3", "copy_rate": "references"}
    assert set(results["metrics"]) == set(expected)
    df = load_scores(store.path)
    assert list(df.columns) == ["instance_id", "sample", "metric", "condition", "value"]
    for name, cond in expected.items():
        rows = df[df.metric == name]
        assert len(rows) == 4 and set(rows.condition) == {cond} and 5 not in set(rows["sample"])
        m = results["metrics"][name]
        assert m["skipped"] is None and m["n"] == 2 and m["ci_low"] <= m["mean"] <= m["ci_high"]
        per_instance = rows.groupby("instance_id").value.mean()
        assert m["mean"] == pytest.approx(per_instance.mean())
    assert df[df.metric == "style_gram"].value.between(0, 1.001).all()
    assert results["metrics"]["copy_rate"]["mean"] == 0.0  # the tiny model draws noise: nothing pasted
    for name in ("fid", "kid"):
        s = results["set_metrics"][name]
        assert s["n"] == 4 and s["n_reference"] > 150 and s["reference"].startswith("dreambench+styledrop+classic@")
        assert "union of both sources" in s["reference_reason"]  # tasks/style_subject_control.yaml's reason
        floor = s["noise_floor"]
        assert floor["n"] == 4 and floor["splits"] == 3 and s["value"] is not None and not s["higher_is_better"]
        assert s["stable"] is (s["note"] == "")
        assert json.loads((store.path / "scores" / f"{name}.json").read_text()) == s
    assert results["set_metrics"]["kid"]["estimator"] == "all images"


def test_warm_rescore_loads_no_model_and_repeats_the_values(env, monkeypatch):
    from ibench.evaluators import extractor
    from ibench.evaluators.results import load_scores
    from ibench.evaluators.options import ScoreOptions
    from ibench.evaluators.score import score_run

    run = env["runs"]["style_subject_control"]
    metrics = "clip_t,dino,clip_i,style_clip,style_gram,fid,kid"
    score_run(run, ScoreOptions(metrics=metrics, extractors=env["config"], data_root=env["root"], num_workers=0))
    before = load_scores(run)

    def boom(self):
        raise AssertionError(f"{self.name} was loaded on a warm cache")

    monkeypatch.setattr(extractor.Extractor, "load", boom)
    results = score_run(run, ScoreOptions(metrics=metrics, extractors=env["config"], data_root=env["root"], num_workers=0))
    after = load_scores(run)
    assert before.equals(after) and results["set_metrics"]["fid"]["value"] is not None


def test_clip_t_and_dino_equal_a_direct_computation(env):
    """Direct: open_clip / transformers with the same weights on the same files, no ibench code."""
    import open_clip
    from PIL import Image
    from torchvision import transforms as T
    from transformers import ViTModel

    from ibench.evaluators.results import load_scores
    from ibench.evaluators.options import ScoreOptions
    from ibench.evaluators.score import score_run
    from ibench.core.rundir import RunStore

    run, cfg, root = env["runs"]["style_subject_control"], env["config"], env["root"]
    score_run(run, ScoreOptions(metrics=["clip_t", "dino"], extractors=cfg, data_root=root, num_workers=0))
    df = load_scores(run).set_index(["metric", "instance_id", "sample"]).value
    store = RunStore(run)
    instances = {i.id: i for i in store.instances()}
    model, _, preprocess = open_clip.create_model_and_transforms(cfg["clip"]["model"], pretrained=cfg["clip"]["pretrained"])
    tokenizer = open_clip.get_tokenizer(cfg["clip"]["model"])
    dino = ViTModel.from_pretrained(cfg["dino"]["model"], add_pooling_layer=False).eval()
    dino_tf = T.Compose([T.Resize(37, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(32), T.ToTensor(),
                         T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    for g in [g for g in store.generations() if g.ok]:
        inst = instances[g.instance_id]
        image = Image.open(run / g.image).convert("RGB")
        with torch.no_grad():
            img = model.encode_image(preprocess(image)[None])
            txt = model.encode_text(tokenizer([inst.instruction.target_prompt]))
            clip_t = torch.nn.functional.cosine_similarity(img, txt).item()
            views = inst.instruction.of_kind("subject")[0].images
            folder = root.resolve(views[0]).parent  # DreamBench: every real photo of the subject, not just the views
            photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"})
            assert len(photos) > len(views)
            refs = [Image.open(p).convert("RGB") for p in photos]
            feats = dino(pixel_values=torch.stack([dino_tf(im) for im in [image, *refs]])).last_hidden_state[:, 0]
            dino_v = torch.nn.functional.cosine_similarity(feats[:1], feats[1:]).mean().item()
        assert df["clip_t", g.instance_id, g.sample] == pytest.approx(clip_t, abs=1e-5)
        assert df["dino", g.instance_id, g.sample] == pytest.approx(dino_v, abs=1e-5)


def _strict(text: str) -> dict:
    def refuse(token):
        raise AssertionError(f"{token} in JSON")

    return json.loads(text, parse_constant=refuse)


def test_multi_subject_scores_each_subject(env):
    from ibench.evaluators.results import load_scores
    from ibench.evaluators.options import ScoreOptions
    from ibench.evaluators.score import score_run

    run = env["runs"]["multi_subject"]
    results = score_run(run, ScoreOptions(metrics="dino,clip_i", extractors=env["config"], data_root=env["root"], num_workers=0))
    for name in ("dino", "clip_i"):
        assert set(results["metrics"][name]["conditions"]) == {"subject:ref#1", "subject:ref#2"}
        assert results["metrics"][name]["n_rows"] == 2
        assert results["metrics"][name]["n"] == 1 and results["metrics"][name]["ci_low"] is None  # n=1: no CI
    assert _strict((run / "results.json").read_text())["notes"] == []
    # scoring again is idempotent: same rows, no duplicates
    before = load_scores(run)
    score_run(run, ScoreOptions(metrics="dino,clip_i", extractors=env["config"], data_root=env["root"], num_workers=0))
    assert load_scores(run).equals(before) and len(before) == 4


def test_rescoring_after_the_task_yaml_changed_says_so(env, tmp_path):
    import shutil

    from ibench.evaluators.options import ScoreOptions
    from ibench.evaluators.score import score_run

    run = tmp_path / env["runs"]["multi_subject"].name
    shutil.copytree(env["runs"]["multi_subject"], run)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["identity"]["spec_hash"] = "0123456789abcdef"  # as if tasks/multi_subject.yaml had been edited
    (run / "manifest.json").write_text(json.dumps(manifest))
    results = score_run(run, ScoreOptions(metrics="clip_t", extractors=env["config"], data_root=env["root"], num_workers=0))
    assert len(results["notes"]) == 1 and "changed since this run was generated" in results["notes"][0]
    assert "0123456789abcdef" in results["notes"][0]
    _validate(results)


def test_mask_and_depth_controls_and_missing_depth_model(env):
    from ibench.evaluators.results import load_scores
    from ibench.evaluators.options import ScoreOptions
    from ibench.evaluators.score import score_run

    run = env["runs"]["eval_controls"]
    with pytest.raises(IbenchError, match="is not registered: pass --metrics"):
        score_run(run, ScoreOptions(extractors=env["config"], data_root=env["root"]))
    results = score_run(run, ScoreOptions(metrics="control_mask,control_depth,content_clip", extractors=env["config"],
                        data_root=env["root"], num_workers=0))
    _validate(results)
    df = load_scores(run)
    mask, depth = df[df.metric == "control_mask"], df[df.metric == "control_depth"]
    assert len(mask) == 2 and set(mask.condition) == {"control:ref#1"} and mask.value.between(0, 1).all()
    assert len(depth) == 2 and set(depth.condition) == {"control:ref#2"} and (depth.value >= 0).all()
    assert not results["metrics"]["control_depth"]["higher_is_better"]
    assert results["metrics"]["content_clip"]["skipped"].startswith("skipped: no condition")
    no_depth = {**env["config"], "depth": {"model": "someone/absent-depth-model"}}
    results = score_run(run, ScoreOptions(metrics="control_mask,control_depth", extractors=no_depth, data_root=env["root"], num_workers=0))
    assert results["metrics"]["control_depth"]["skipped"].startswith("skipped: no depth model")
    assert results["metrics"]["control_depth"]["mean"] is None and results["metrics"]["control_mask"]["n"] == 2
    _validate(results)


def test_cli_score_and_run_stage(env, capsys):
    from ibench.cli import main
    from ibench.cli.run import score_stage
    from ibench.core.rundir import RunStore

    run = env["runs"]["multi_subject"]
    main(["score", str(run), "--metrics", "clip_t,dino", "--extractor-config", str(env["file"]), "--workers", "0"])
    out = capsys.readouterr().out
    assert "clip_t" in out and "dino" in out and "1 images scored" in out
    with pytest.raises(SystemExit) as e:
        main(["score", str(run), "--metrics", "clip_tt"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "did you mean 'clip_t'" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as e:  # the default weights, offline: one line naming them
        main(["score", str(run), "--metrics", "dino"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "facebook/dino-vits16" in err and len(err.strip().splitlines()) == 1
    (run / "results.json").unlink()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IBENCH_EXTRACTOR_CONFIG", str(env["file"]))
        score_stage(RunStore(run))
    results = json.loads((run / "results.json").read_text())
    assert set(results["metrics"]) == {"clip_t", "dino", "clip_i", "copy_rate"}
    assert set(results["set_metrics"]) == {"fid", "kid"}
    assert np.isfinite(results["metrics"]["dino"]["mean"])


def test_fid_and_kid_count_every_image_so_a_collapsed_run_scores_worse(env, tmp_path):
    """As clean-fid counts every file: 12 outputs that are one image are n=12 (not n=1) and score worse than 12
    real subject photos (the `references` oracle)."""
    import hashlib
    import shutil

    from ibench.core.registry import get_task
    from ibench.core.rundir import RunLayout
    from ibench.evaluators.options import ScoreOptions
    from ibench.evaluators.score import score_run
    from ibench.models import get_model
    from ibench.run import GenerateOptions, generate

    diverse = generate(get_task("subject_gen"), get_model("references"), env["root"],
                       GenerateOptions(out=tmp_path / "runs", limit=6, samples=2, progress=False))[0].path
    collapsed = tmp_path / "collapsed" / diverse.name
    shutil.copytree(diverse, collapsed)
    gens = [json.loads(line) for line in (collapsed / RunLayout.GENERATIONS).read_text().splitlines()]
    one = (collapsed / gens[0]["image"]).read_bytes()
    for g in gens:
        (collapsed / g["image"]).write_bytes(one)
        g["sha256"] = hashlib.sha256(one).hexdigest()
    (collapsed / RunLayout.GENERATIONS).write_text("".join(json.dumps(g) + "\n" for g in gens))
    got = {}
    for name, run in (("diverse", diverse), ("collapsed", collapsed)):
        got[name] = score_run(run, ScoreOptions(metrics="fid,kid", extractors=env["config"], data_root=env["root"],
                              num_workers=0))["set_metrics"]
        _validate({**json.loads((run / "results.json").read_text())})
    assert got["collapsed"]["kid"]["n"] == got["diverse"]["kid"]["n"] == 12
    assert got["collapsed"]["kid"]["n_distinct"] == 1 and got["diverse"]["kid"]["n_distinct"] > 6
    for metric in ("fid", "kid"):
        assert got["collapsed"][metric]["value"] > got["diverse"][metric]["value"], metric
