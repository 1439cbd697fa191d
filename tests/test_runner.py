"""The runner and run store: complete runs, resume after SIGKILL, failures recorded, refusals."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from PIL import Image

from ibench.models import get_model
from ibench.core.registry import get_task
from ibench.run import GenerateOptions, generate
from ibench.run.runner import sample_seed
from ibench.core.rundir import RunStore, sha256_file


def check_complete(store: RunStore, n_instances: int, samples: int) -> None:
    gens = store.generations()
    keys = [g.key for g in gens]
    assert len(keys) == len(set(keys)) == n_instances * samples
    assert {i.id for i in store.instances()} == {k[0] for k in keys}
    for g in gens:
        assert g.ok, g.error
        path = store.path / g.image
        assert sha256_file(path) == g.sha256
        with Image.open(path) as im:
            im.load()
    raw = [json.loads(line) for f in store.generation_files() for line in f.read_text().splitlines()]
    made = [(r["instance_id"], r["sample"]) for r in raw if r["error"] is None]
    assert len(made) == len(set(made)), "no duplicate image records on disk (failed attempts stay as history)"


def test_tiny_run_is_complete_and_resumes(data_root, tmp_path):
    spec, model = get_task("style_subject"), get_model("tiny")
    store, counts = generate(spec, model, data_root, GenerateOptions(out=tmp_path, limit=4, samples=2, progress=False))
    assert counts == {"generated": 8, "failed": 0, "skipped": 0}
    check_complete(store, 4, 2)
    manifest = store.manifest()
    assert manifest.identity.task == "style_subject" and manifest.identity.model_settings["steps"] == 2
    assert "torch" in manifest.environment["packages"]
    g = store.generations()[0]
    assert g.seed == sample_seed(0, g.instance_id, g.sample)
    # same command again: same run, nothing to do; larger limit extends the same run
    store2, counts2 = generate(spec, get_model("tiny", device="cpu"), data_root, GenerateOptions(out=tmp_path, limit=4, samples=2,
                               batch_size=4, progress=False))
    assert store2.path == store.path and counts2["generated"] == 0 and counts2["skipped"] == 8
    store3, counts3 = generate(spec, get_model("tiny"), data_root, GenerateOptions(out=tmp_path, limit=5, samples=2, progress=False))
    assert store3.path == store.path and counts3["generated"] == 2
    # output-affecting settings make another run
    store4, _ = generate(spec, get_model("tiny", steps=3), data_root, GenerateOptions(out=tmp_path, limit=1, samples=1, progress=False))
    assert store4.path != store.path


def test_batch_size_does_not_change_images(data_root, tmp_path):
    spec = get_task("style_subject")
    a, _ = generate(spec, get_model("tiny"), data_root, GenerateOptions(out=tmp_path / "a", limit=3, samples=2, batch_size=1, progress=False))
    b, _ = generate(spec, get_model("tiny"), data_root, GenerateOptions(out=tmp_path / "b", limit=3, samples=2, batch_size=4, progress=False))
    assert a.path.name == b.path.name
    assert [(g.key, g.sha256) for g in a.generations()] == [(g.key, g.sha256) for g in b.generations()], \
        "the tiny model: byte-identical images whatever the batch size"


def test_failures_are_recorded_not_fatal_and_retried(data_root, tmp_path):
    spec = get_task("style_subject")
    model = get_model("tests.adapters:Flaky", fail_suffixes="01234567")
    store, counts = generate(spec, model, data_root, GenerateOptions(out=tmp_path, limit=6, samples=1, progress=False))
    failed = [g for g in store.generations() if not g.ok]
    assert counts["failed"] == len(failed) and 0 < len(failed) < 6
    assert all("cannot draw" in g.error for g in failed)
    # the settings that failed are part of the run id, so retry with a fixed model in the same store:
    fixed = get_model("tests.adapters:Flaky", fail_suffixes="01234567")
    fixed.options["fail_suffixes"] = ""
    from ibench.run.runner import execute, plan

    p = plan(spec, get_model("tests.adapters:Flaky", fail_suffixes="01234567"), data_root,
             GenerateOptions(out=tmp_path, limit=6, samples=1))
    assert len(p.todo) == len(failed), "only failed samples are redone"
    execute(p, fixed, data_root, progress=False)
    check_complete(RunStore(p.store.path), 6, 1)


def test_refuses_tasks_the_model_cannot_do(data_root, tmp_path, cli):
    from ibench.errors import IbenchError

    with pytest.raises(IbenchError, match="cannot use the .*style.*subject"):
        generate(get_task("style_subject"), get_model("tests.adapters:TextOnly"), data_root, GenerateOptions(out=tmp_path, limit=1))
    assert not any(tmp_path.iterdir()), "nothing written for a refused task"
    code, _, err = cli("run", "--task", "mask2img", "--model", "tests.adapters:Flaky",
                       "--data-dir", data_root.root, "--limit", "1", "--out", tmp_path, "--no-score")
    assert code == 2 and err.count("\n") == 1
    assert "cannot use the control:mask references that task 'mask2img' needs" in err


def test_folder_and_references_models(data_root, tmp_path):
    spec = get_task("subject_gen")
    ref_store, _ = generate(spec, get_model("references"), data_root, GenerateOptions(out=tmp_path / "r", limit=2, samples=2, progress=False))
    gens = ref_store.generations()
    assert all(g.ok for g in gens)
    first = ref_store.instances()[0]
    with Image.open(data_root.resolve(first.instruction.references[0].images[0])) as real:
        assert Image.open(ref_store.path / gens[0].image).size[0] <= real.size[0]
    # import images made "elsewhere": the references run's images, by the documented naming scheme
    folder = tmp_path / "closed-model"
    for g in gens[:-1]:  # leave one out: it fails alone
        target = folder / g.instance_id / f"{g.sample}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((ref_store.path / g.image).read_bytes())
    store, counts = generate(spec, get_model("folder", dir=str(folder)), data_root, GenerateOptions(out=tmp_path / "f", limit=2, samples=2,
                             batch_size=4, progress=False))
    assert counts["generated"] == 3 and counts["failed"] == 1
    assert store.manifest().identity.model_settings == {"label": "closed-model", "dir": str(folder.resolve())}
    by_key = {g.key: g for g in store.generations()}
    assert all(by_key[g.key].sha256 == g.sha256 for g in gens[:-1])


def test_sigkill_mid_run_then_resume(shared_data, tmp_path):
    out = tmp_path / "runs"
    cmd = [sys.executable, "-m", "ibench", "run", "--task", "style_subject", "--model", "tiny", "--limit", "4",
           "--samples", "3", "--model-arg", "steps=25", "--data-dir", str(shared_data), "--out", str(out), "--no-score"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    records = []
    while time.time() < deadline and proc.poll() is None:
        records = list(out.glob("*/generations.jsonl"))
        if records and len(records[0].read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed: slow it down"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = RunStore(records[0].parent)
    done_before = len(store.generations())
    assert 3 <= done_before < 12
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    check_complete(store, 4, 3)


USER_ADAPTERS = """
from PIL import Image
from ibench.models.base import ModelAdapter, ALL_CAPABILITIES
class Grey(ModelAdapter):
    capabilities = ALL_CAPABILITIES
    def generate(self, batch): return [Image.new("RGB", (8, 8), (99, 99, 99)) for _ in batch]
class Black(ModelAdapter):
    capabilities = ALL_CAPABILITIES
    def generate(self, batch): return (Image.new("RGB", (8, 8)) for _ in batch)
class Strings(ModelAdapter):
    name = "strings"
    capabilities = ALL_CAPABILITIES
    def generate(self, batch): return ["not an image"] * len(batch)
"""


def test_run_identity_and_bad_outputs(data_root, tmp_path, monkeypatch):
    (tmp_path / "user_adapters_r.py").write_text(USER_ADAPTERS)
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = get_task("subject_gen")
    # two user adapters that keep the default name must not share (and "resume") one run
    grey, _ = generate(spec, get_model("user_adapters_r:Grey"), data_root, GenerateOptions(out=tmp_path / "r", limit=1, samples=1,
                       progress=False))
    black, counts = generate(spec, get_model("user_adapters_r:Black"), data_root, GenerateOptions(out=tmp_path / "r", limit=1, samples=1,
                             progress=False))
    assert grey.path != black.path and counts["generated"] == 1
    # a model returning non-images: recorded failures, not a crash
    store, counts = generate(spec, get_model("user_adapters_r:Strings"), data_root, GenerateOptions(out=tmp_path / "r", limit=2,
                             samples=1, batch_size=2, progress=False))
    assert counts["failed"] == 2 and all("not a PIL image" in g.error for g in store.generations())
    # two `folder` imports of different models whose folders share a name: two runs
    stores = []
    for model in ("a", "b"):
        folder = tmp_path / model / "out"
        for g in grey.generations():
            (folder / g.instance_id).mkdir(parents=True)
            (folder / g.instance_id / "0.png").write_bytes((grey.path / g.image).read_bytes())
        stores.append(generate(spec, get_model("folder", dir=str(folder)), data_root, GenerateOptions(out=tmp_path / "f", limit=1,
                               samples=1, progress=False))[0])
    assert stores[0].path != stores[1].path


def test_write_failure_mid_run_keeps_records(data_root, tmp_path, monkeypatch):
    from ibench.errors import IbenchError

    spec = get_task("style_subject")
    real = RunStore.save_image
    calls = []

    def save_image(self, image, instance_id, sample):
        calls.append(1)
        if len(calls) > 2:
            raise OSError(28, "No space left on device")
        return real(self, image, instance_id, sample)

    monkeypatch.setattr(RunStore, "save_image", save_image)
    with pytest.raises(IbenchError, match="No space left on device.*2 samples made so far are kept"):
        generate(spec, get_model("tests.adapters:Flaky", fail_suffixes=""), data_root, GenerateOptions(out=tmp_path, limit=4, samples=1,
                 progress=False))
    monkeypatch.setattr(RunStore, "save_image", real)
    store, counts = generate(spec, get_model("tests.adapters:Flaky", fail_suffixes=""), data_root, GenerateOptions(out=tmp_path, limit=4,
                             samples=1, progress=False))
    assert counts["skipped"] == 2 and counts["generated"] == 2
    check_complete(store, 4, 1)


def test_editing_metrics_or_checklist_keeps_the_run(data_root, tmp_path, monkeypatch):
    """The run id covers what changes outputs: templates do, metrics and the checklist do not."""
    from ibench.core.registry import task_files

    spec = get_task("style_subject")
    store, _ = generate(spec, get_model("tiny"), data_root, GenerateOptions(out=tmp_path, limit=1, samples=1, progress=False))
    folder = tmp_path / "tasks"
    folder.mkdir()
    text = task_files()["style_subject"].read_text()
    edited = text.replace("metrics: [clip_t, dino, clip_i, style_clip, style_gram]", "metrics: [clip_t]")
    edited = edited.replace("The image shows {prompt}", "The picture shows {prompt}")
    assert edited != text
    (folder / "style_subject.yaml").write_text(edited)
    same, counts = generate(get_task(str(folder / "style_subject.yaml")), get_model("tiny"), data_root, GenerateOptions(out=tmp_path,
                            limit=1, samples=1, progress=False))
    assert same.path == store.path and counts["skipped"] == 1
    (folder / "style_subject.yaml").write_text(text.replace("Render [ref#1] in the style of [ref#2]: {prompt}",
                                                            "Draw [ref#1] in the style of [ref#2]: {prompt}"))
    other, _ = generate(get_task(str(folder / "style_subject.yaml")), get_model("tiny"), data_root, GenerateOptions(out=tmp_path,
                        limit=1, samples=1, progress=False))
    assert other.path != store.path
