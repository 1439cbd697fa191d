"""A random Qwen2-VL built in code (tokenizer included), saved with ``save_pretrained``: the offline judge.

``--judge-config tiny`` builds the tiny one once into the cache dir and judges with it in logprob mode:
it runs the whole judge path offline, with meaningless verdicts (like the tiny model and extractors).
Tests and benchmarks build their own with ``build_vlm`` (``small``: a real-architecture Qwen2-VL at a
reduced size, for timing). The tokenizer is byte-level BPE over the 256 byte symbols with no merges,
so every digit is one token, as in Qwen's own tokenizer.
"""

from __future__ import annotations

from pathlib import Path

from ibench.core.paths import cache_dir

SIZES = {
    "tiny": {"hidden": 32, "layers": 2, "heads": 2, "kv": 1, "vision_depth": 1, "vision_dim": 32, "vision_heads": 2},
    "small": {"hidden": 512, "layers": 8, "heads": 8, "kv": 2, "vision_depth": 8, "vision_dim": 384, "vision_heads": 6},
}
SPECIALS = ["<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% if m['content'] is string %}{{ m['content'] }}"
    "{% else %}{% for c in m['content'] %}{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% else %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
TINY_VERSION = "1"


def build_vlm(folder: str | Path, size: str = "tiny", seed: int = 0, max_pixels: int = 56 * 56) -> Path:
    """Write a random Qwen2-VL (model, tokenizer, processor) of ``size`` to ``folder``; returns the folder."""
    import torch
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import (Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLImageProcessor,
                              Qwen2VLProcessor, Qwen2VLVideoProcessor)
    from transformers.models.qwen2.tokenization_qwen2 import Qwen2Tokenizer

    d = SIZES[size]
    vocab = {"<|endoftext|>": 0, **{c: i + 1 for i, c in enumerate(sorted(ByteLevel.alphabet()))}}
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=[], eos_token="<|im_end|>", pad_token="<|endoftext|>",
                               additional_special_tokens=SPECIALS)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in ["<|endoftext|>", *SPECIALS]}
    images = Qwen2VLImageProcessor(min_pixels=28 * 28, max_pixels=max_pixels, patch_size=14, merge_size=2,
                                   temporal_patch_size=2)
    processor = Qwen2VLProcessor(image_processor=images, tokenizer=tokenizer, video_processor=Qwen2VLVideoProcessor(),
                                 chat_template=CHAT_TEMPLATE)
    head = d["hidden"] // d["heads"]
    quarter = head // 8
    config = Qwen2VLConfig(
        text_config={"vocab_size": len(tokenizer), "hidden_size": d["hidden"], "intermediate_size": 2 * d["hidden"],
                     "num_hidden_layers": d["layers"], "num_attention_heads": d["heads"],
                     "num_key_value_heads": d["kv"], "max_position_embeddings": 8192,
                     "rope_scaling": {"type": "mrope", "mrope_section": [head // 2 - 2 * quarter, quarter, quarter]},
                     "bos_token_id": ids["<|im_start|>"], "eos_token_id": ids["<|im_end|>"],
                     "pad_token_id": ids["<|endoftext|>"]},
        vision_config={"depth": d["vision_depth"], "embed_dim": d["vision_dim"], "hidden_size": d["hidden"],
                       "num_heads": d["vision_heads"], "mlp_ratio": 2, "patch_size": 14, "spatial_merge_size": 2,
                       "temporal_patch_size": 2, "in_channels": 3},
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        bos_token_id=ids["<|im_start|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"])
    torch.manual_seed(seed)
    model = Qwen2VLForConditionalGeneration(config).eval()
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    folder = Path(folder)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def tiny_judge_config() -> dict:
    """The ``tiny`` preset: the tiny random VLM (built once into the cache dir), logprob mode, on the CPU."""
    folder = cache_dir() / "judge" / f"tiny-qwen2-vl-v{TINY_VERSION}"
    if not (folder / "config.json").is_file():
        import os
        import shutil

        tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
        build_vlm(tmp, "tiny")
        try:
            os.replace(tmp, folder)
        except OSError:  # another process finished first
            shutil.rmtree(tmp, ignore_errors=True)
    return {"backend": "transformers", "model": str(folder), "revision": f"tiny-v{TINY_VERSION}", "mode": "logprob",
            "device": "cpu", "image_max_side": 64, "batch_size": 4}
