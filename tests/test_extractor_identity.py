"""An extractor's identity is what its weights are: the same tiny weights copied to two folders give one id and
byte-identical results.json (timestamps aside); a hub snapshot is its revision; a hash is computed once."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from report_fixtures import METRICS, report_inputs  # noqa: F401 (fixture)

from ibench.evaluators.identity import content_digest, file_identity, hub_snapshot, weights_name


def _moved(config: dict, old: str, new: str) -> dict:
    return json.loads(json.dumps(config).replace(old, new))


def test_the_same_weights_in_two_folders_score_to_byte_identical_results(report_inputs, tmp_path, monkeypatch):
    from ibench.core.paths import DataRoot
    from ibench.evaluators.options import ScoreOptions
    from ibench.evaluators.score import score_run

    source = str(next(iter(report_inputs.extractors["dino"].values()))).rsplit("/dino", 1)[0]
    tiny = next(r for r in report_inputs.runs if "-tiny-" in r.name)
    docs = []
    for where in ("machine-a/extractors", "elsewhere/b/weights"):
        folder = shutil.copytree(source, tmp_path / where)
        run = shutil.copytree(tiny, tmp_path / where.split("/")[0] / "runs" / tiny.name)
        shutil.rmtree(run / "scores")
        (run / "results.json").unlink()
        monkeypatch.setenv("IBENCH_CACHE_DIR", str(tmp_path / where.split("/")[0] / "cache"))  # nothing shared
        score_run(run, ScoreOptions(metrics=METRICS, extractors=_moved(report_inputs.extractors, source, str(folder)),
                                    num_workers=0, data_root=DataRoot(report_inputs.data,
                                                                      derived_dir=tmp_path / "derived")))
        docs.append((run / "results.json").read_text())
    stamps = [json.loads(d)["scored_at"] for d in docs]
    same = [d.replace(s, "T") for d, s in zip(docs, stamps)]
    assert same[0] == same[1]
    ids = {name: e["id"] for name, e in json.loads(docs[0])["extractors"].items()}
    assert all("machine-a" not in i and "elsewhere" not in i and "ibench-tiny:sha256:" in i for i in ids.values()), ids


def test_a_hub_snapshot_is_its_revision_and_a_folder_its_content(tmp_path):
    commit = "0123456789abcdef0123456789abcdef01234567"
    snap = tmp_path / "hub" / "models--facebook--dino-vits16" / "snapshots" / commit
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}")
    assert hub_snapshot(snap) == ("facebook/dino-vits16", commit, "")
    assert file_identity(snap) == "hf:facebook/dino-vits16@0123456789ab"
    assert file_identity(snap / "config.json") == "hf:facebook/dino-vits16@0123456789ab:config.json"
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        (folder / "sub").mkdir(parents=True)
        (folder / "sub" / "w.bin").write_bytes(b"\x01" * 100)
    (b / ".cache").mkdir()
    (b / ".cache" / "noise").write_text("a download's bookkeeping")  # hidden: not part of the weights
    assert file_identity(a) == file_identity(b) and file_identity(a).startswith("sha256:")
    (b / "sub" / "w.bin").write_bytes(b"\x02" * 100)
    assert file_identity(a) != file_identity(b)
    assert weights_name("facebook/dino-vits16") == "facebook/dino-vits16" and weights_name(str(a)) == "local"


def test_a_content_hash_is_computed_once_per_path_size_and_mtime(tmp_path, monkeypatch):
    monkeypatch.setenv("IBENCH_CACHE_DIR", str(tmp_path / "cache"))
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"a" * 1000)
    first = content_digest(weights)
    stat = weights.stat()
    weights.write_bytes(b"b" * 1000)  # same size, and the old mtime put back: taken for the same file
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert content_digest(weights) == first
    assert first in json.loads((tmp_path / "cache" / "weights-identity.json").read_text()).values()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched: hashed again
    assert content_digest(weights) != first


@pytest.mark.parametrize("name", ["./weights", "/abs/dino", "~/models/x"])
def test_paths_never_enter_an_id(name):
    assert weights_name(name) == "local"
