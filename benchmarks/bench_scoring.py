"""Scoring performance, as ratios measured in one run (real architectures, random weights, real images).

    .venv/bin/python benchmarks/bench_scoring.py [--quick] [--images N] [--workers W] [--batch-size B]

1. throughput: cold ``score_run`` (clip_t, dino, clip_i: decode in workers, forward, cache, rows)
   vs the pure batched forward of the same extractors on pre-decoded tensors (goal >= 0.9);
2. FID: ibench's feature extraction + FID vs clean-fid's ``compute_fid`` with the same extractor
   (clean-fid's Inception architecture, random weights) on the same folders (goal >= 1.0);
3. warm-cache re-score vs cold (goal >= 20x);
4. peak RSS of scoring 4N vs N images, each in a fresh process (goal <= 1.2x; tiny extractors, so
   that a leak is not hidden behind the constant model memory).

Images: the ~190 real images of ../shared/data, augmented (random crop, flip) to N generated outputs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "shared" / "data"
METRICS = "clip_t,dino,clip_i"


def real_images(root) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"} and "derived" not in p.parts)


def make_run(out: Path, n_images: int, seed: int = 0) -> Path:
    """A subject_gen run whose outputs are augmented real photos (JPEG, 320 px)."""
    from PIL import Image

    from ibench.data import build_instances
    from ibench.core.paths import DataRoot
    from ibench.core.registry import get_task
    from ibench.core.rundir import Generation, RunStore, sha256_file

    root, spec, samples = DataRoot(DATA, derived_dir=out / "derived"), get_task("subject_gen"), 4
    instances = build_instances(spec, root, seed=seed, count=math.ceil(n_images / samples))
    store = RunStore(out / f"bench-{n_images}")
    store.create({"run_id": store.path.name, "family": spec.family, "data_root": str(root.root),
                  "identity": {"task": spec.name, "task_version": spec.version, "model": "augmented-real",
                               "model_settings": {"n": n_images}, "seed": seed}})
    store.add_instances(instances)
    pool, rng, records = [p for p in real_images(DATA / "dreambench")], random.Random(seed), []
    for i in range(n_images):
        inst, k = instances[i // samples], i % samples
        with Image.open(pool[i % len(pool)]) as im:
            im = im.convert("RGB")
            w, h = im.size
            s = rng.uniform(0.6, 1.0)
            cw, ch = int(w * s), int(h * s)
            x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
            im = im.crop((x, y, x + cw, y + ch)).resize((320, 320), Image.BICUBIC)
            if rng.random() < 0.5:
                im = im.transpose(Image.FLIP_LEFT_RIGHT)
        rel = f"images/{inst.id}/{k}.jpg"
        (store.path / rel).parent.mkdir(parents=True, exist_ok=True)
        im.save(store.path / rel, quality=92)
        records.append(Generation(instance_id=inst.id, sample=k, seed=i, image=rel, sha256=sha256_file(store.path / rel)))
    store.append_generations(records)
    return store.path


def random_dino(folder: Path) -> str:
    """DINO ViT-S/16's architecture with random weights, saved like a hub checkpoint."""
    import torch
    from transformers import ViTConfig, ViTModel

    torch.manual_seed(0)
    ViTModel(ViTConfig(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536,
                       patch_size=16, image_size=224), add_pooling_layer=False).save_pretrained(folder)
    return str(folder)


def random_fid_inception():
    """clean-fid's own FID Inception architecture (pytorch-fid blocks) with random weights: no download."""
    import torch
    from cleanfid import inception_pytorch as ip

    def build():
        net = ip._inception_v3(num_classes=1008, aux_logits=False, pretrained=False)
        for name, block in [("Mixed_5b", ip.FIDInceptionA(192, 32)), ("Mixed_5c", ip.FIDInceptionA(256, 64)),
                            ("Mixed_5d", ip.FIDInceptionA(288, 64)), ("Mixed_6b", ip.FIDInceptionC(768, 128)),
                            ("Mixed_6c", ip.FIDInceptionC(768, 160)), ("Mixed_6d", ip.FIDInceptionC(768, 160)),
                            ("Mixed_6e", ip.FIDInceptionC(768, 192)), ("Mixed_7b", ip.FIDInceptionE_1(1280)),
                            ("Mixed_7c", ip.FIDInceptionE_2(2048))]:
            setattr(net, name, block)
        return net

    torch.manual_seed(0)
    ip.fid_inception_v3 = build  # the one function that downloads; everything else is clean-fid's
    net = ip.InceptionV3(output_blocks=[3], resize_input=False).eval()

    class Features(torch.nn.Module):  # as clean-fid's feature_extractor("pytorch_inception")
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net(x / 255)[0].squeeze(-1).squeeze(-1)

    return Features().eval()


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def pure_forward(run: Path, extractors: dict, batch_size: int):
    """A function timing the batched forward passes alone, on tensors decoded and transformed beforehand."""
    import torch
    from PIL import Image

    from ibench.evaluators.clip import ClipText
    from ibench.core.rundir import RunStore

    store = RunStore(run)
    instances = {i.id: i for i in store.instances()}
    gens = store.generations()
    refs = sorted({r for i in instances.values() for ref in i.instruction.of_kind("subject") for r in ref.images})
    paths = [run / g.image for g in gens] + [DATA / r for r in refs]
    work = []
    for ext in extractors.values():
        ext.load()
        if isinstance(ext, ClipText):
            texts = sorted({i.instruction.target_prompt for i in instances.values()})
            work += [(ext, texts[j:j + 64]) for j in range(0, len(texts), 64)]
            continue
        tensors = [ext.transform(Image.open(p).convert("RGB")) for p in paths]
        work += [(ext, torch.stack(tensors[j:j + batch_size])) for j in range(0, len(tensors), batch_size)]
    return lambda: timed(lambda: [ext.forward(b) for ext, b in work])[0]


def memory_child(n: int, work: Path, workers: int, batch_size: int) -> None:
    """Score n images with tiny extractors in this fresh process; print peak RSS (MiB)."""

    def hwm() -> float:  # VmHWM, not ru_maxrss: on Linux ru_maxrss survives exec (the parent's peak)
        line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmHWM"))
        return int(line.split()[1]) / 1024

    from ibench.evaluators.options import ScoreOptions
    from ibench.evaluators.score import score_run
    from ibench.evaluators.tiny import save_tiny_extractors

    config = save_tiny_extractors(work / "tiny")
    run = make_run(work, n)
    base = hwm()
    score_run(run, ScoreOptions(metrics=METRICS, extractors=config, num_workers=workers, batch_size=batch_size))
    print(json.dumps({"n": n, "peak_mib": hwm(), "before_mib": base}))


def memory_peak(n: int, workers: int, batch_size: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="ibench-mem-") as tmp:
        env = {**os.environ, "IBENCH_CACHE_DIR": str(Path(tmp) / "cache"), "HF_HUB_OFFLINE": "1"}
        out = subprocess.run([sys.executable, __file__, "--memory-child", str(n), "--work", tmp, "--workers",
                              str(workers), "--batch-size", str(batch_size)], env=env, capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(out.stderr[-3000:])
        return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="200 images (memory: 200 vs 800)")
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2, help="torch threads of the main process")
    ap.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.memory_child:
        return memory_child(args.memory_child, args.work, args.workers, args.batch_size)
    n = 200 if args.quick else args.images
    with tempfile.TemporaryDirectory(prefix="ibench-bench-") as tmp:
        tmp = Path(tmp)
        os.environ.update({"IBENCH_CACHE_DIR": str(tmp / "cache"), "HF_HUB_OFFLINE": "1"})
        from ibench.evaluators.cache import FeatureCache
        from ibench.evaluators.config import ExtractorConfig
        from ibench.evaluators.features import ensure_image_features
        from ibench.evaluators.inception import Inception
        from ibench.evaluators.options import ScoreOptions
        from ibench.evaluators.score import build_extractors, score_run
        from ibench.evaluators.setmetrics import set_metric
        from ibench.core.rundir import RunStore

        print(f"# bench_scoring: {n} images, workers={args.workers}, batch={args.batch_size}, "
              f"torch threads={args.threads}, cpus={os.cpu_count()}", flush=True)
        run = make_run(tmp, n)
        config = ExtractorConfig(clip_model="ViT-B-32", clip_pretrained=None, dino_model=random_dino(tmp / "dino"))
        kw = ScoreOptions(metrics=METRICS, extractors=config, num_workers=args.workers, batch_size=args.batch_size)
        extractors = build_extractors({"clip", "clip_text", "dino"}, config, "cpu")
        for e in extractors.values():
            e.load()  # model build/load time is not throughput: load before both measurements
        forward = pure_forward(run, extractors, args.batch_size)
        import ibench.evaluators.score as score_mod

        score_mod.build_extractors = lambda names, cfg, device: {k: extractors[k] for k in names}
        t_forward, t_cold = [], []
        for r in range(1 if args.quick else 2):  # interleaved rounds: the machine is shared, take the best
            os.environ["IBENCH_CACHE_DIR"] = str(tmp / f"cache{r}")
            t_forward.append(forward())
            t_cold.append(timed(lambda: score_run(run, kw))[0])
        t_warm, _ = timed(lambda: score_run(run, kw))
        t_forward, t_cold = min(t_forward), min(t_cold)
        n_rows = sum(1 for _ in (run / "scores" / "dino.jsonl").open())
        print(f"throughput  score {n / t_cold:7.2f} img/s vs pure forward {n / t_forward:7.2f} img/s   "
              f"ratio {t_forward / t_cold:.2f} (goal >= 0.9)", flush=True)
        print(f"warm cache  cold {t_cold:.1f} s, warm {t_warm:.2f} s   ratio {t_cold / t_warm:.0f}x (goal >= 20x)",
              flush=True)

        fx_module = random_fid_inception()
        ref_dir = tmp / "ref"
        ref_dir.mkdir()
        for p in real_images(DATA / "dreambench"):
            shutil.copy(p, ref_dir / f"{p.parent.name}_{p.name}")
        refs, gens = sorted(ref_dir.iterdir()), [run / g.image for g in RunStore(run).generations()]
        ext = Inception(module=fx_module, identity="fid-inception-random")

        def ours(files: list[Path], cache_name: str, ref_feats=None):
            """Features of ``files`` (cold cache), then FID vs the reference features."""
            import numpy as np

            from ibench.core.rundir import sha256_file

            os.environ["IBENCH_CACHE_DIR"] = str(tmp / cache_name)
            t0 = time.perf_counter()
            cache = FeatureCache(ext.id, ext.preprocessing)
            want = {sha256_file(p): p for p in files}
            ensure_image_features({"inception": want}, {"inception": ext}, {"inception": cache}, args.batch_size,
                                  args.workers)
            got, gen_set = cache.get(want), set(gens)
            g = np.stack([got[s] for s, p in want.items() if p in gen_set])
            r = ref_feats if ref_feats is not None else np.stack([got[s] for s, p in want.items() if p not in gen_set])
            t_feat = time.perf_counter() - t0
            return t_feat, set_metric("fid", g, r)[0], r

        import torch as _t
        from cleanfid.fid import compute_fid

        t_ours, (t_feat, fid_ours, ref_feats) = timed(lambda: ours(gens + refs, "fid-cold"))
        t_clean, fid_clean = timed(lambda: compute_fid(str(run / "images"), str(ref_dir), mode="clean",
                                                       custom_feat_extractor=lambda x: fx_module(x),
                                                       num_workers=args.workers, batch_size=args.batch_size,
                                                       device=_t.device("cpu"), verbose=False))
        t_refcached, _ = timed(lambda: ours(gens, "fid-refs-cached", ref_feats))
        print(f"FID         cold: ibench {t_ours:.1f} s (features {t_feat:.1f} s) vs clean-fid compute_fid "
              f"{t_clean:.1f} s   ratio {t_clean / t_ours:.2f} (goal >= 1.0); with the task's reference statistics "
              f"cached (every run after the first): {t_refcached:.1f} s, ratio {t_clean / t_refcached:.2f}; "
              f"FID {fid_ours:.6g} vs {fid_clean:.6g} ({len(gens)} vs {len(refs)} images)", flush=True)

        small, large = memory_peak(n, args.workers, args.batch_size), memory_peak(4 * n, args.workers, args.batch_size)
        print(f"memory      peak RSS {small['peak_mib']:.0f} MiB at {n} images, {large['peak_mib']:.0f} MiB at "
              f"{4 * n}   ratio {large['peak_mib'] / small['peak_mib']:.2f} (goal <= 1.2)", flush=True)
        print(f"# rows per metric: {n_rows}", flush=True)


if __name__ == "__main__":
    main()
