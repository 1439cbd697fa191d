"""Tiny random weights for the reference-model adapters, built in code and saved like hub repos.

Every builder writes a folder laid out as the real hub repository is (``model_index.json`` for
pipelines, ``config.json`` + weights for a ControlNet, ``<subfolder>/<weight>`` + ``image_encoder/``
for IP-Adapter), so the adapters load them through the same ``from_pretrained`` / ``load_ip_adapter``
calls that a real id takes. Each builder is idempotent: an existing folder is reused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from ibench.core.locks import cache_entry
from ibench.models.tinysd import save_tiny_sd, tiny_vae  # noqa: F401 - re-exported for tests

IP_WEIGHT = "ip-adapter_tiny.safetensors"
IP_SUBFOLDER = "models"
CROSS_DIM = 32  # the tiny UNet's cross-attention width (= text and image embedding width)


def build_once(folder: Path, build: Callable[[Path], None], seed: int) -> Path:
    """``folder``, built once and whole by ``build(tmp_folder)`` with torch seeded (an existing entry is reused;
    two builders racing, or a torn folder, are handled by ``ibench.core.locks.cache_entry``)."""
    def seeded(tmp: Path) -> None:
        torch.manual_seed(seed)
        build(tmp)

    return cache_entry(Path(folder), seeded)


def save_tiny_ip_adapter(folder: Path, weight: str = IP_WEIGHT) -> Path:
    """A tiny IP-Adapter repo: ``models/<weight>`` and ``models/image_encoder`` (CLIP vision)."""
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    from ibench.models.tinysd import tiny_unet

    def build(tmp: Path) -> None:
        encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(
            hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, image_size=32,
            patch_size=8, projection_dim=CROSS_DIM))
        save_ip_adapter_for(tiny_unet(cross_attention_dim=CROSS_DIM), encoder, tmp, weight)

    return build_once(folder, build, seed=1)


def save_ip_adapter_for(unet, encoder, folder: Path, weight: str = IP_WEIGHT) -> None:
    """Random IP-Adapter weights (base ImageProjection, 4 tokens) that fit ``unet`` and ``encoder``."""
    from diffusers.models.attention_processor import IPAdapterAttnProcessor
    from diffusers.models.embeddings import ImageProjection
    from safetensors.torch import save_file

    folder = Path(folder)
    encoder.save_pretrained(folder / IP_SUBFOLDER / "image_encoder")
    cross = unet.config.cross_attention_dim
    state: dict[str, torch.Tensor] = {}
    key_id = 1
    for name in unet.attn_processors:  # the order diffusers' converter walks
        if name.endswith("attn1.processor"):
            continue
        if name.startswith("mid_block"):
            hidden = unet.config.block_out_channels[-1]
        elif name.startswith("up_blocks"):
            hidden = list(reversed(unet.config.block_out_channels))[int(name[len("up_blocks.")])]
        else:
            hidden = unet.config.block_out_channels[int(name[len("down_blocks.")])]
        sd = IPAdapterAttnProcessor(hidden_size=hidden, cross_attention_dim=cross).state_dict()
        state[f"ip_adapter.{key_id}.to_k_ip.weight"] = sd["to_k_ip.0.weight"]
        state[f"ip_adapter.{key_id}.to_v_ip.weight"] = sd["to_v_ip.0.weight"]
        key_id += 2
    proj = ImageProjection(cross_attention_dim=cross, image_embed_dim=encoder.config.projection_dim,
                           num_image_text_embeds=4).state_dict()
    state.update({"image_proj.proj.weight": proj["image_embeds.weight"], "image_proj.proj.bias": proj["image_embeds.bias"],
                  "image_proj.norm.weight": proj["norm.weight"], "image_proj.norm.bias": proj["norm.bias"]})
    save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(folder / IP_SUBFOLDER / weight))


def save_tiny_controlnet(folder: Path, seed: int = 2) -> Path:
    """A tiny ControlNet matching the tiny UNet (conditioning downscaled x2 like the tiny VAE)."""
    from diffusers import ControlNetModel

    def build(tmp: Path) -> None:
        ControlNetModel(block_out_channels=(32, 64), layers_per_block=1, in_channels=4,
                        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), cross_attention_dim=CROSS_DIM,
                        conditioning_embedding_out_channels=(16, 32), norm_num_groups=32,
                        attention_head_dim=4).save_pretrained(tmp)

    return build_once(folder, build, seed=seed)


def tiny_llama_tokenizer():
    """A byte-fallback Llama tokenizer built in code: <unk>, <s>, </s>, 256 byte tokens, ASCII pieces."""
    from transformers import LlamaTokenizer

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for ch in ["▁"] + [chr(c) for c in range(33, 127)]:
        vocab.setdefault(ch, len(vocab))
    return LlamaTokenizer(vocab=vocab, merges=[])


def save_tiny_omnigen(folder: Path) -> Path:
    """A tiny OmniGen pipeline: transformer, an x8 VAE (OmniGen assumes 16 px per token), tokenizer."""
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, OmniGenPipeline, OmniGenTransformer2DModel

    def build(tmp: Path) -> None:
        tokenizer = tiny_llama_tokenizer()
        transformer = OmniGenTransformer2DModel(
            hidden_size=16, num_attention_heads=4, num_key_value_heads=4, intermediate_size=32, num_layers=1,
            in_channels=4, time_step_dim=4, vocab_size=len(tokenizer) + 8, pad_token_id=len(tokenizer),
            rope_scaling={"long_factor": [1.0, 2.0], "short_factor": [1.0, 2.0]})
        vae = AutoencoderKL(block_out_channels=(8, 8, 8, 8), in_channels=3, out_channels=3, latent_channels=4,
                            down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                            norm_num_groups=8, sample_size=64)
        scheduler = FlowMatchEulerDiscreteScheduler(invert_sigmas=True, num_train_timesteps=1)
        OmniGenPipeline(transformer=transformer, scheduler=scheduler, vae=vae, tokenizer=tokenizer).save_pretrained(tmp)

    return build_once(folder, build, seed=3)


def tiny_composite_config(root: Path) -> dict:
    """Settings for ``sd-composite`` that point every component at tiny local folders."""
    root = Path(root)
    return {
        "model": str(save_tiny_sd(root / "sd")),
        "ip_adapter": str(save_tiny_ip_adapter(root / "ip-adapter")),
        "ip_adapter_subfolder": IP_SUBFOLDER,
        "ip_adapter_weight": IP_WEIGHT,
        "controlnets": {"edge": str(save_tiny_controlnet(root / "cn-edge", seed=2)),
                        "depth": str(save_tiny_controlnet(root / "cn-depth", seed=4))},
        "size": 64, "steps": 2, "guidance": 2.0,
    }
