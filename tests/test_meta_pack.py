"""Packs end to end: ``ibench data fetch`` of a stand-in pack from a loopback mirror (pinned, SHA-256
checked), then ``ibench judge meta --pack ... --judge-config tiny``: ibench's own (tiny, offline) judge sees
what the raters saw, its verdicts are cached (a rerun asks nothing), and its row sits beside the human
ceiling; every figure recomputed here with scipy from the cached verdicts and the raw ratings."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy.stats import spearmanr

from loopback import FileMirror as Mirror

ORIGIN = "https://raw.githubusercontent.com/stand-in/pack/0123456789abcdef0123456789abcdef01234567/"
MODELS = ("SDXL", "SD", "DALLE2")
UIDS = [f"sample_{k}.jpg" for k in range(5)]
PAIRS = {"0": "A>B", "1": "B>A", "2": "tie", "3": "both_bad", "4": "A>B", "5": "B>A"}


def png(color: tuple[int, int, int]) -> bytes:
    import io

    buf = io.BytesIO()
    Image.new("RGB", (28, 28), color).save(buf, format="PNG")
    return buf.getvalue()


def stand_in() -> dict[str, bytes]:
    """Pack files by local path: ImagenHub-style ratings, pointwise and pairwise items, their images."""
    rng = np.random.default_rng(3)
    files: dict[str, bytes] = {}
    folder = "viescore/_human_annotations/ImagenHub_human_eval_results/ImagenHub_Text-Guided_IG"
    for rater in (1, 2, 3):
        lines = ["uid\t" + "\t".join(MODELS)]
        for uid in UIDS:
            lines.append(uid + "\t" + "\t".join(f"[{rng.choice([0, 0.5, 1]):g},{rng.choice([0, 0.5, 1]):g}]"
                                                  for _ in MODELS))
        files[f"{folder}/Text-To-Image_rater{rater}.tsv"] = ("\n".join(lines) + "\n").encode()
    items = []
    for m, model in enumerate(MODELS):
        for k, uid in enumerate(UIDS):
            files[f"viescore/images/{model}/{uid}.png"] = png((50 * k, 90 * m, 30))
            items.append({"task": "txt2img", "model": model, "item": uid, "instruction": f"a red kite number {k}",
                          "output": f"images/{model}/{uid}.png"})
    files["viescore/items.jsonl"] = "".join(json.dumps(i) + "\n" for i in items).encode()
    pairs = []
    for item, human in PAIRS.items():
        files[f"genaibench/images/{item}/src.png"] = png((10, 10, 10 * int(item)))
        files[f"genaibench/images/{item}/a.png"] = png((200, 30 * int(item), 0))
        files[f"genaibench/images/{item}/b.png"] = png((0, 30 * int(item), 200))
        pairs.append({"task": "image_edition", "item": item, "instruction": "make the sky green", "human": human,
                      "references": [{"kind": "source", "caption": "the image to edit",
                                      "images": [f"images/{item}/src.png"]}],
                      "a": f"images/{item}/a.png", "b": f"images/{item}/b.png"})
    files["genaibench/items.jsonl"] = "".join(json.dumps(p) + "\n" for p in pairs).encode()
    return files


@pytest.fixture(scope="module")
def fetched(tmp_path_factory) -> dict:
    from ibench.cli import main

    base = tmp_path_factory.mktemp("pack")
    files = stand_in()
    manifest = base / "pack.tsv"
    with open(manifest, "w", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(["local_path", "original_url", "sha256_of_original", "bytes_of_original"])
        for rel, data in files.items():
            w.writerow([rel, ORIGIN + rel, hashlib.sha256(data).hexdigest(), len(data)])
    served = {"/stand-in/pack/0123456789abcdef0123456789abcdef01234567/" + rel: data for rel, data in files.items()}
    with Mirror(served) as mirror:
        main(["data", "fetch", "--manifest", str(manifest), "--base-url", mirror.url, "-d", str(base / "root")])
    assert len(mirror.requests) == len(files)
    return {"root": base / "root", "files": files}


def judged(root: Path, pack: str):  # noqa: ANN201
    """The tiny judge's (cached) verdicts on the pack's items, asked through the same public engine."""
    from ibench.evaluators.judge.engine import Judge
    from ibench.meta.pack import ask, read_items

    judge = Judge("tiny")
    try:
        queries, verdicts = ask(judge, root / pack, read_items(root / pack, pack, None), pack == "genaibench")
    finally:
        judge.close()
    return judge.label, queries, verdicts


def test_pack_viescore_runs_ibench_judge_on_what_raters_saw(fetched, cli, tmp_path):
    root = fetched["root"]
    out = tmp_path / "meta.csv"
    args = ("judge", "meta", "--pack", "viescore", "-d", root, "--judge-config", "tiny", "--resamples", 20,
            "--csv", out, "--format", "md")
    code, stdout, err = cli(*args)
    assert code == 0, err
    assert f"{len(MODELS) * len(UIDS) * 3} questions" in err
    label, queries, verdicts = judged(root, "viescore")
    assert all(v["cached"] for v in verdicts.values())
    sc_query = next(q for q in queries if q.question == "sc")
    text = json.dumps(sc_query.messages)
    assert "a red kite number" in text and len(sc_query.images) == 1  # instruction and the output under judgement
    table = pd.read_csv(out, skiprows=1)
    ratings = pd.concat([pd.read_csv(p, sep="\t").assign(rater=p.stem) for p in sorted(
        (root / "viescore/_human_annotations/ImagenHub_human_eval_results/ImagenHub_Text-Guided_IG").glob("*.tsv"))])
    for model in MODELS:
        sc = {q.meta["item"]: verdicts[q.key]["score"] / 10 for q in queries
              if q.question == "sc" and q.meta["model"] == model}
        human = ratings.groupby("uid")[model].apply(lambda c: np.mean([json.loads(v)[0] for v in c]))
        expect = spearmanr([sc[u] for u in UIDS], [human[u] for u in UIDS]).statistic
        row = table[(table.judge == label) & (table.model == model) & (table.measure == "SC")]
        assert len(row) == 1 and row["n"].iloc[0] == len(UIDS)
        assert row["value"].iloc[0] == pytest.approx(expect, abs=1e-12) or (np.isnan(expect) and row["value"].isna().all())
    assert {"human", label} <= set(table.judge)
    code, _, err = cli(*args)  # resumable: everything is cached now
    assert code == 0 and f"({len(MODELS) * len(UIDS) * 3} cached" in err


def test_pack_genaibench_pairwise_accuracy_of_ibench_judge(fetched, cli, tmp_path):
    root = fetched["root"]
    out = tmp_path / "pairs.csv"
    code, _, err = cli("judge", "meta", "--pack", "genaibench", "-d", root, "--judge-config", "tiny",
                       "--resamples", 20, "--csv", out, "--format", "md")
    assert code == 0, err
    label, queries, verdicts = judged(root, "genaibench")
    pair = next(q for q in queries)
    assert "make the sky green" in json.dumps(pair.messages) and len(pair.images) == 3  # source, first, second
    first = {}
    for q in queries:
        if q.meta["order"] == "ab":
            w = verdicts[q.key]["winner"]
            first[q.meta["item"]] = {"1": "A>B", "2": "B>A", "tie": "tie"}[w]
    right = [first[i] == h if h in ("A>B", "B>A") else first[i] == "tie" and h in ("tie", "both_bad")
             for i, h in PAIRS.items()]
    table = pd.read_csv(out, skiprows=1)
    row = table[(table.judge == label) & (table.statistic == "accuracy_4way")]
    assert row["value"].iloc[0] == pytest.approx(np.mean(right)) and row["n"].iloc[0] == len(PAIRS)


def test_pack_errors_are_one_line(fetched, cli, tmp_path):
    code, _, err = cli("judge", "meta", "--pack", "viescore", "-d", tmp_path, "--judge-config", "tiny")
    assert code == 2 and "items.jsonl not found" in err and "ibench data fetch --pack viescore" in err
    code, _, err = cli("judge", "meta", "--pack", "nope", "-d", fetched["root"], "--judge-config", "tiny")
    assert code == 2 and "judge packs are genaibench, mmrb2-edit, viescore" in err
    code, _, err = cli("judge", "meta", "--pack", "imagenhub", "-d", fetched["root"], "--judge-config", "tiny")
    assert code == 2 and "is a benchmark pack" in err and "ibench run --pack imagenhub" in err
    code, _, err = cli("data", "fetch", "--pack", "viescor", "-d", tmp_path)
    assert code == 2 and "did you mean 'viescore'" in err


def test_packaged_pack_pins_match_the_files_they_name(shared_data):
    """The manifests' pins were computed from the repositories at the pinned commits: the files the shared
    data holds unchanged (the rating TSVs, the leaderboard file) have exactly those bytes."""
    from ibench.data.fetch import read_manifest
    from ibench.data.packs import PACKS

    checked = 0
    for pack in PACKS.values():
        rows = read_manifest(pack.manifest())
        assert rows and all(r.path.startswith(pack.name + "/") for r in rows)
        assert all(("@" + r.url.split("/")[5]) in pack.source for r in rows)  # every URL names the pinned commit
        for r in rows:
            local = shared_data / r.path
            if local.suffix in (".tsv", ".txt") and local.is_file():
                assert hashlib.sha256(local.read_bytes()).hexdigest() == r.sha256 and local.stat().st_size == r.size
                checked += 1
    assert checked == 22


def test_fetching_the_viescore_pack_verifies_each_pinned_file(shared_data, cli, tmp_path):
    """The shipped manifest through `ibench data fetch --pack`, from a loopback mirror holding the original
    rating files (the shared data keeps them unchanged); a file that differs from its pin is refused."""
    from ibench.data.fetch import read_manifest
    from ibench.data.packs import get_pack

    rows = [r for r in read_manifest(get_pack("viescore").manifest()) if r.path.startswith("viescore/_human")]
    served = {"/" + r.url.split("https://raw.githubusercontent.com/", 1)[1]: (shared_data / r.path).read_bytes()
              for r in rows}
    with Mirror(served) as mirror:
        code, out, err = cli("data", "fetch", "--pack", "viescore", "--only", "viescore/_human_annotations",
                             "--base-url", mirror.url, "-d", tmp_path / "root")
        assert code == 0, err
        assert f"pack viescore: {len(rows)} downloaded" in out
        first = next(iter(served))
        served[first] = b"x" + served[first][1:]  # same size, other bytes
        code, _, err = cli("data", "fetch", "--pack", "viescore", "--only", "viescore/_human_annotations",
                           "--base-url", mirror.url, "-d", tmp_path / "other")
    assert code == 2 and "checksum mismatch" in err
    for r in rows:
        assert (tmp_path / "root" / r.path).read_bytes() == (shared_data / r.path).read_bytes()
