"""fp16 throughput on a GPU: the ibench runner with ``sd-composite`` vs a bare diffusers loop.

Without ``--config`` it builds an SD 1.5-shaped model with random weights in code (UNet, VAE and
CLIP text encoder at SD 1.5 size, a ViT-H/14 image encoder + IP-Adapter, an SD 1.5 ControlNet),
saves it and loads it through the same path a hub id takes, so it needs no network; the speed of
random weights is the speed of real ones. ``--config FILE`` uses a model config (real ids, cached).

Timings (interleaved rounds, best of ``--repeats``):
* bare   - the exact diffusers calls the adapter makes (recorded, replayed) in a plain loop;
* runner - ``ibench.runner.generate`` (planning, reference decoding, IP-Adapter embeddings, PNG +
           record writes) into a fresh run dir.

    python benchmarks/bench_gpu.py [--task style_subject_control] [-n 8] [-k 2] [-b 8] [--steps 20]

FLUX.2 klein through ``multiref``: ``benchmarks/bench_gpu_multiref.py`` (both use ``gpu_common.py``).

Exits with status 2 and one line when no CUDA GPU is visible.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]


def build_sd15_shaped(folder: Path) -> dict:
    """SD 1.5-sized random components saved as hub-style folders; returns sd-composite settings."""
    import torch
    from diffusers import AutoencoderKL, ControlNetModel, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPVisionConfig, CLIPVisionModelWithProjection

    from ibench.models.tinysd import tiny_tokenizer
    from tiny_pipelines import IP_SUBFOLDER, IP_WEIGHT, save_ip_adapter_for

    if (folder / ".complete").is_file():
        return _settings(folder, IP_SUBFOLDER, IP_WEIGHT)
    torch.manual_seed(0)
    with torch.device("cuda"):
        tok = tiny_tokenizer()
        text = CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072,
                                            num_hidden_layers=12, num_attention_heads=12, max_position_embeddings=77,
                                            projection_dim=768, bos_token_id=len(tok) - 2, eos_token_id=len(tok) - 1))
        unet = UNet2DConditionModel(cross_attention_dim=768, sample_size=64)  # defaults: SD 1.5's layout
        vae = AutoencoderKL(block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
                            up_block_types=("UpDecoderBlock2D",) * 4, layers_per_block=2, latent_channels=4,
                            sample_size=512)
        sched = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1)
        pipe = StableDiffusionPipeline(unet=unet.half(), vae=vae.half(), text_encoder=text.half(), tokenizer=tok,
                                       scheduler=sched, safety_checker=None, feature_extractor=None,
                                       requires_safety_checker=False)
        pipe.save_pretrained(folder / "sd")
        encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(
            hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=16, image_size=224,
            patch_size=14, projection_dim=1024)).half()
        save_ip_adapter_for(unet, encoder, folder / "ip-adapter", IP_WEIGHT)
        for kind in ("edge", "depth"):
            ControlNetModel(cross_attention_dim=768).half().save_pretrained(folder / f"cn-{kind}")
    (folder / ".complete").write_text("ok\n")
    return _settings(folder, IP_SUBFOLDER, IP_WEIGHT)


def _settings(folder: Path, sub: str, weight: str) -> dict:
    return {"model": str(folder / "sd"), "ip_adapter": str(folder / "ip-adapter"), "ip_adapter_subfolder": sub,
            "ip_adapter_weight": weight, "controlnets": {k: str(folder / f"cn-{k}") for k in ("edge", "depth")}}


def main() -> None:
    from gpu_common import require_cuda

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, help="sd-composite model config (YAML); default: SD 1.5-shaped random")
    ap.add_argument("--weights-dir", type=Path, default=Path(tempfile.gettempdir()) / "ibench-sd15-random")
    ap.add_argument("--task", default="style_subject_control")
    ap.add_argument("-n", "--instances", type=int, default=8)
    ap.add_argument("-k", "--samples", type=int, default=2)
    ap.add_argument("-b", "--batch-size", type=int, default=8)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--compile", action="store_true", help="torch.compile the UNet (both loops use it)")
    ap.add_argument("--data-dir", default=None, help="data root (default ../shared/data, else `synthetic`)")
    args = ap.parse_args()

    torch = require_cuda("bench_gpu")
    from bench_runner import Recorder
    from gpu_common import print_times, runner_vs_bare

    from ibench.data import build_instances
    from ibench.models import get_model
    from ibench.models.base import Request
    from ibench.data import resolve_data_root
    from ibench.core.registry import get_task
    from ibench.run.runner import sample_seed
    from ibench.core.yamlio import load_yaml

    t0 = time.perf_counter()
    cfg = load_yaml(args.config) if args.config else build_sd15_shaped(args.weights_dir)
    build_s = time.perf_counter() - t0
    shared = ROOT.parent / "shared" / "data"
    root = resolve_data_root(args.data_dir or (str(shared) if (shared / "dreambench").is_dir() else "synthetic"))
    spec = get_task(args.task)
    t0 = time.perf_counter()
    model = get_model("sd-composite", **{**cfg, "dtype": "fp16", "device": "cuda", "steps": args.steps,
                                         "size": args.size, "compile": args.compile})
    load_s = time.perf_counter() - t0
    model.close = lambda: None
    instances = build_instances(spec, root, count=args.instances)
    requests = [Request(i, k, sample_seed(0, i.id, k), root) for i in instances for k in range(args.samples)]
    batches = [requests[s:s + args.batch_size] for s in range(0, len(requests), args.batch_size)]

    for batch in batches:  # warm-up: builds the derived pipelines, loads IP-Adapter, compiles
        model.generate(batch)
    recs = {key: Recorder(p) for key, p in model._pipes.items()}
    originals = dict(model._pipes)
    model._pipes.update(recs)
    for batch in batches:
        model.generate(batch)
    model._pipes.update(originals)
    calls = [(originals[key], c) for key, r in recs.items() for c in r.calls]

    t = runner_vs_bare(spec, model, root, calls, args)
    print_times(f"{torch.cuda.get_device_name()} | sd-composite fp16 on {args.task}: {len(requests)} images, batch "
                f"{args.batch_size}, {args.size}px, {args.steps} steps, compile={args.compile}; weights built in "
                f"{build_s:.0f} s, loaded in {load_s:.1f} s", len(requests), t)


if __name__ == "__main__":
    main()
