"""bf16 on a GPU: the ibench runner with ``multiref`` (preset flux2-klein) vs a bare diffusers loop.

Builds a FLUX.2 [klein] 4B-shaped pipeline with random weights in code (Qwen3-4B-sized text encoder,
the klein transformer and VAE at real size, an in-process tokenizer with Qwen's vocabulary size),
saves it and loads it through ``from_pretrained``, like a hub id; random weights run at the speed of
real ones. Then times ``ibench.run.generate`` against replaying the exact pipeline calls it made.

    python benchmarks/bench_gpu_multiref.py [--task style_subject] [-n 4] [-k 2] [-b 2] [--steps 4]

Exits with status 2 and one line when no CUDA GPU is visible. (Not run on the CPU-only development
machine; goal: runner/bare time ratio <= 1.05.)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]


def build_klein_shaped(folder: Path) -> Path:
    """FLUX.2 [klein] 4B-sized random components saved as a hub-style pipeline folder."""
    import torch
    from diffusers import AutoencoderKLFlux2, FlowMatchEulerDiscreteScheduler, Flux2KleinPipeline, Flux2Transformer2DModel
    from transformers import Qwen3Config, Qwen3ForCausalLM

    from tiny_multiref import qwen_tokenizer

    if (folder / ".complete").is_file():
        return folder
    torch.manual_seed(0)
    tok = qwen_tokenizer()
    with torch.device("cuda"):
        text = Qwen3ForCausalLM(Qwen3Config(vocab_size=151936, hidden_size=2560, intermediate_size=9728,
                                            num_hidden_layers=36, num_attention_heads=32, num_key_value_heads=8,
                                            head_dim=128, max_position_embeddings=40960)).to(torch.bfloat16)
        transformer = Flux2Transformer2DModel(in_channels=128, num_layers=5, num_single_layers=20, attention_head_dim=128,
                                              num_attention_heads=24, joint_attention_dim=3 * 2560,
                                              timestep_guidance_channels=256, axes_dims_rope=(32, 32, 32, 32),
                                              guidance_embeds=False).to(torch.bfloat16)
        vae = AutoencoderKLFlux2().to(torch.bfloat16)
    Flux2KleinPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=text, tokenizer=tok,
                       transformer=transformer, is_distilled=True).save_pretrained(folder)
    (folder / ".complete").write_text("ok\n")
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights-dir", type=Path, default=Path(tempfile.gettempdir()) / "ibench-klein-random")
    ap.add_argument("--task", default="style_subject")
    ap.add_argument("-n", "--instances", type=int, default=4)
    ap.add_argument("-k", "--samples", type=int, default=2)
    ap.add_argument("-b", "--batch-size", type=int, default=2)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--data-dir", default=None, help="data root (default ../shared/data, else `synthetic`)")
    args = ap.parse_args()

    from gpu_common import print_times, require_cuda, runner_vs_bare

    torch = require_cuda("bench_gpu_multiref")
    from bench_runner import Recorder

    from ibench.core.registry import get_task
    from ibench.data import build_instances, resolve_data_root
    from ibench.models import get_model
    from ibench.models.base import Request
    from ibench.run.runner import sample_seed

    t0 = time.perf_counter()
    folder = build_klein_shaped(args.weights_dir)
    build_s = time.perf_counter() - t0
    shared = ROOT.parent / "shared" / "data"
    root = resolve_data_root(args.data_dir or (str(shared) if (shared / "dreambench").is_dir() else "synthetic"))
    spec = get_task(args.task)
    t0 = time.perf_counter()
    model = get_model("multiref", preset="flux2-klein", model=str(folder), dtype="bf16", device="cuda",
                      steps=args.steps, size=args.size, reference_side=args.size)
    load_s = time.perf_counter() - t0
    model.close = lambda: None
    instances = build_instances(spec, root, count=args.instances)
    requests = [Request(i, k, sample_seed(0, i.id, k), root) for i in instances for k in range(args.samples)]
    batches = [requests[s:s + args.batch_size] for s in range(0, len(requests), args.batch_size)]
    for batch in batches:  # warm-up
        model.generate(batch)
    pipe, rec = model.pipe, Recorder(model.pipe)
    model.pipe = rec
    for batch in batches:
        model.generate(batch)
    model.pipe = pipe

    t = runner_vs_bare(spec, model, root, [(pipe, kw) for kw in rec.calls], args)
    print_times(f"{torch.cuda.get_device_name()} | multiref flux2-klein (4B-shaped, random) bf16 on {args.task}: "
                f"{len(requests)} images, batch {args.batch_size}, {args.size}px, {args.steps} steps; built in "
                f"{build_s:.0f} s, loaded in {load_s:.1f} s", len(requests), t)


if __name__ == "__main__":
    main()
