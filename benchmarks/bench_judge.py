"""VLM judge performance, as ratios measured in one run on one machine.

    .venv/bin/python benchmarks/bench_judge.py [--quick] [-n N] [--gpu]

(``-n``: questions per measurement; the CPU transformers measurement takes at most 16.)

1. ``transformers`` backend, batched (batch 8) vs one request at a time, on a small real-architecture
   Qwen2-VL with random weights (``ibench.evaluators.judge.tiny.build_vlm(size="small")``), PQ questions
   about real images of ../shared/data, in ``logprob`` and in ``generate`` mode (random weights never stop,
   so every reply is ``max_new_tokens`` long: the same work at any batch size);
2. ``openai`` backend against a fake OpenAI-compatible server on 127.0.0.1 answering after 300 ms:
   concurrency 8 vs 1 (goal >= 6x);
3. the verdict cache: asking the same questions again (warm) vs the first time (cold), against the
   same 300 ms server at concurrency 8 (goal >= 50x); the whole ``ibench score`` of a run, cold vs warm,
   is printed beside it.
4. ``--gpu``: a Qwen2.5-VL-7B-shaped model with random weights in bf16, logprob mode, images/s
   (skipped, with one line, where no CUDA GPU is visible).

No verdict cache is shared between measurements (each one starts empty).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
DATA = ROOT.parent / "shared" / "data"


def real_images(n: int) -> list[Path]:
    photos = sorted(p for p in DATA.rglob("*.jpg") if "derived" not in p.parts)
    if len(photos) < n:
        raise SystemExit(f"need {n} real images under {DATA}, found {len(photos)}")
    return photos[:n]


def pq_queries(judge, images: list[Path]) -> list:
    from ibench.core.paths import sha256_file
    from ibench.evaluators.judge.prompts import Image

    return [judge.builder.pq("naturalness", Image(p, sha256_file(p))) for p in images]


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def ask_time(config: dict, n: int, warmup: int = 0) -> float:
    """Seconds to ask ``n`` fresh questions (no verdict cache), after ``warmup`` questions (model loading)."""
    from ibench.evaluators.judge.cache import NullCache
    from ibench.evaluators.judge.engine import Judge

    judge = Judge(config, cache=NullCache())
    queries = pq_queries(judge, real_images(n))
    if warmup:
        judge.ask(queries[:warmup])
    seconds = timed(lambda: judge.ask(queries))
    judge.close()
    return seconds


def bench_batching(n: int, work: Path) -> None:
    import torch
    from safetensors.torch import load_file

    from ibench.evaluators.judge.tiny import build_vlm

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    folder = build_vlm(work / "small-vlm", "small", max_pixels=224 * 224)
    params = sum(t.numel() for t in load_file(str(folder / "model.safetensors")).values())
    print(f"1. transformers, Qwen2-VL architecture with random weights ({params / 1e6:.0f} M parameters), {n} "
          f"questions about real images at 224 px, CPU ({torch.get_num_threads()} threads)")
    for mode, extra in (("logprob", {}), ("generate", {"max_new_tokens": 16, "max_retries": 0})):
        times = {}
        for batch in (1, 8):
            times[batch] = ask_time({"backend": "transformers", "model": str(folder), "mode": mode, "device": "cpu",
                                     "image_max_side": 224, "batch_size": batch, **extra}, n, warmup=2)
        print(f"   {mode:8s}: one at a time {times[1]:.2f} s, batch 8 {times[8]:.2f} s -> "
              f"{times[1] / times[8]:.2f}x ({n / times[8]:.2f} questions/s batched)")


def bench_http(n: int, work: Path) -> None:
    from fake_openai import FakeOpenAI

    reply = json.dumps({"score": 7, "reasoning": "fine"})
    with FakeOpenAI(lambda body, k: reply, latency=0.3) as server:
        times = {}
        for conc in (1, 8):
            times[conc] = ask_time({"backend": "openai", "model": "fake", "base_url": server.url, "concurrency": conc,
                                    "image_max_side": 256}, n)
    print(f"2. openai backend, fake server with 300 ms latency, {n} questions: concurrency 1 {times[1]:.2f} s, "
          f"concurrency 8 {times[8]:.2f} s -> {times[1] / times[8]:.2f}x (goal >= 6x)")


def bench_cache(n: int, work: Path) -> None:
    from fake_openai import FakeOpenAI
    from judge_fixtures import make_synthetic_runs

    from ibench.evaluators.judge.cache import VerdictCache
    from ibench.evaluators.judge.engine import Judge
    from ibench.evaluators.options import ScoreOptions
    from ibench.evaluators.score import score_run

    reply = json.dumps({"score": 6, "reasoning": "fine"})
    os.environ["IBENCH_CACHE_DIR"] = str(work / "cache")
    with FakeOpenAI(lambda body, k: reply, latency=0.3) as server:
        config = {"backend": "openai", "model": "fake", "base_url": server.url, "concurrency": 8, "image_max_side": 256}
        cache = VerdictCache(work / "verdicts")
        judge = Judge(config, cache=cache)
        queries = pq_queries(judge, real_images(n))
        cold = timed(lambda: judge.ask(queries))
        warm = timed(lambda: judge.ask(queries))
        judge.close()
        print(f"3. verdict cache, {n} questions (300 ms server, concurrency 8): cold {cold:.3f} s, warm {warm:.4f} s "
              f"-> {cold / warm:.0f}x (goal >= 50x)")
        run = make_synthetic_runs(work, work / "cache", models=("tiny",), limit=max(1, n // 10), samples=2)[0]
        options = {"judge": {"config": config}}
        metrics = ["judge_sc", "judge_pq", "judge_o"]
        before = server.calls
        cold_run = timed(lambda: score_run(run, ScoreOptions(metrics=metrics, kinds=options)))
        calls = server.calls
        warm_run = timed(lambda: score_run(run, ScoreOptions(metrics=metrics, kinds=options)))
        assert server.calls == calls, "the warm re-score asked the judge"
        print(f"   whole `ibench score` of a run ({calls - before} questions): cold {cold_run:.2f} s, "
              f"warm {warm_run:.2f} s -> {cold_run / warm_run:.1f}x (the warm time is reading the run, hashing, "
              f"writing scores and bootstrap CIs)")


def qwen25_vl_7b_shape():
    """A Qwen2.5-VL-7B-shaped config (text 3584 x 28 layers, vision 1280 x 32 blocks), random weights."""
    from transformers import Qwen2_5_VLConfig

    return Qwen2_5_VLConfig(
        text_config={"vocab_size": 152064, "hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28,
                     "num_attention_heads": 28, "num_key_value_heads": 4, "max_position_embeddings": 32768,
                     "rope_theta": 1000000.0, "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]}},
        vision_config={"depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16,
                       "out_hidden_size": 3584, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2,
                       "window_size": 112, "fullatt_block_indexes": [7, 15, 23, 31]})


def bench_gpu(n: int, work: Path) -> None:
    import torch

    if not torch.cuda.is_available():
        print("4. real-size judge on a GPU: skipped, no CUDA GPU visible on this machine")
        return
    from transformers import Qwen2_5_VLForConditionalGeneration

    from ibench.evaluators.judge.cache import NullCache
    from ibench.evaluators.judge.engine import Judge
    from ibench.evaluators.judge.tiny import build_vlm

    folder = build_vlm(work / "processor", "tiny", max_pixels=768 * 768)  # its processor and tokenizer
    config = qwen25_vl_7b_shape()
    tok_ids = json.loads((folder / "config.json").read_text())
    for key in ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id"):
        setattr(config, key, tok_ids[key])
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda"):
        model = Qwen2_5_VLForConditionalGeneration(config).eval()
    torch.set_default_dtype(torch.float32)
    for batch in (1, 8):
        judge = Judge({"backend": "transformers", "model": str(folder), "mode": "logprob", "device": "cuda",
                       "dtype": "bf16", "image_max_side": 768, "batch_size": batch}, cache=NullCache())
        judge.backend._load()
        judge.backend.model = model
        queries = pq_queries(judge, real_images(n))
        judge.ask(queries[:batch])
        torch.cuda.synchronize()
        seconds = timed(lambda: judge.ask(queries))
        torch.cuda.synchronize()
        print(f"4. Qwen2.5-VL-7B shape, random weights, bf16, {torch.cuda.get_device_name()}, 768 px, logprob, "
              f"batch {batch}: {n / seconds:.2f} images/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=32, help="questions per measurement")
    parser.add_argument("--quick", action="store_true", help="fewer questions (16)")
    parser.add_argument("--gpu", action="store_true", help="also time a real-size judge on a CUDA GPU")
    args = parser.parse_args()
    n = 16 if args.quick else args.n
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory(prefix="bench-judge-") as tmp:
        work = Path(tmp)
        os.environ["IBENCH_CACHE_DIR"] = str(work / "cache")
        bench_batching(min(n, 16), work)  # CPU-bound: 16 questions take minutes on 2 cores
        bench_http(n, work)
        bench_cache(n, work)
        if args.gpu:
            bench_gpu(n, work)


if __name__ == "__main__":
    main()
