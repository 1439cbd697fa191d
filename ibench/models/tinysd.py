"""Tiny random Stable Diffusion parts built in code (no downloads): the offline default model.

The components are saved to a local folder once and loaded back with ``from_pretrained``, so the
tiny model goes through the same loading code as a real hub id or local weight folder.
"""

from __future__ import annotations

from pathlib import Path


TINY_SEED = 0


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def tiny_tokenizer():
    """A byte-level CLIP tokenizer with no merges: tokenizes any text, needs no files."""
    from transformers import CLIPTokenizer

    chars = list(bytes_to_unicode().values())
    vocab = {tok: i for i, tok in enumerate(chars + [c + "</w>" for c in chars])}
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def tiny_text_encoder(vocab_size: int):
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                            num_attention_heads=4, max_position_embeddings=77, projection_dim=32,
                            bos_token_id=vocab_size - 2, eos_token_id=vocab_size - 1, pad_token_id=vocab_size - 1)
    return CLIPTextModel(config)


def tiny_unet(cross_attention_dim: int = 32, in_channels: int = 4):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=32, in_channels=in_channels, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=cross_attention_dim, norm_num_groups=32, attention_head_dim=4)


def tiny_vae():
    from diffusers import AutoencoderKL

    return AutoencoderKL(block_out_channels=(32, 64), in_channels=3, out_channels=3, latent_channels=4,
                         down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
                         up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), norm_num_groups=32, sample_size=64)


def tiny_sd_components() -> dict:
    """UNet, VAE, text encoder, tokenizer and scheduler of a tiny random SD 1.x pipeline."""
    import torch
    from diffusers import DDIMScheduler

    torch.manual_seed(TINY_SEED)
    tokenizer = tiny_tokenizer()
    return {"unet": tiny_unet(), "vae": tiny_vae(), "text_encoder": tiny_text_encoder(len(tokenizer)),
            "tokenizer": tokenizer,
            "scheduler": DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       clip_sample=False, set_alpha_to_one=False, steps_offset=1),
            "safety_checker": None, "feature_extractor": None}


def save_tiny_sd(folder: Path) -> Path:
    """Save a tiny random SD pipeline to ``folder`` (once; reused afterwards). Built whole under a lock,
    so two first runs racing on an empty cache both get it, and a torn folder is rebuilt."""
    from diffusers import StableDiffusionPipeline

    from ibench.core.locks import cache_entry

    def build(tmp: Path) -> None:
        StableDiffusionPipeline(**tiny_sd_components(), requires_safety_checker=False).save_pretrained(tmp)

    return cache_entry(Path(folder), build)
