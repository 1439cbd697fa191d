"""Tiny random multi-reference pipelines (one per ``multiref`` preset) and BLIP-Diffusion, built in code.

Every text encoder and processor comes from a tiny transformers config; tokenizers are byte-level and
built in process (no files, no hub). Each builder saves a hub-style folder once (``tiny_pipelines.build_once``) and
the adapters load it back through ``from_pretrained``. ``TINY_SETTINGS`` holds the call sizes that keep
each preset fast on a CPU (64 px, 2 steps, short text, references at 64 px).
"""

from __future__ import annotations

import string
from pathlib import Path

from ibench.models.tinysd import bytes_to_unicode, tiny_tokenizer, tiny_unet, tiny_vae
from tiny_pipelines import build_once, save_tiny_omnigen, tiny_llama_tokenizer

QWEN_SPECIALS = ["<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
CHAT = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% if m['content'] is string %}{{ m['content'] }}"
        "{% else %}{% for c in m['content'] %}{% if c['type'] == 'text' %}{{ c['text'] }}{% else %}"
        "<|vision_start|><|image_pad|><|vision_end|>{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
H = 16  # hidden width of every tiny encoder

#: settings that keep each preset small on a CPU (merged into the adapter's settings by the tests)
TINY_SETTINGS: dict[str, dict] = {
    "flux2-dev": {"call_args": {"max_sequence_length": 32, "text_encoder_out_layers": [1, 2, 3]}},
    "flux2-klein": {"call_args": {"max_sequence_length": 32, "text_encoder_out_layers": [1, 2, 3]}},
    "qwen-image-edit-plus": {},
    "qwen-image-2.1": {},
    "z-image-omni": {"call_args": {"max_sequence_length": 64}},
    "omnigen": {},
}


def qwen_tokenizer():
    """A byte-level Qwen2 tokenizer with Qwen's chat and vision special tokens and a chat template."""
    from transformers import Qwen2Tokenizer

    tok = Qwen2Tokenizer(vocab={c: i for i, c in enumerate(bytes_to_unicode().values())}, merges=[])
    tok.add_special_tokens({"additional_special_tokens": QWEN_SPECIALS})
    tok.chat_template = CHAT
    return tok


def _vision_ids(tok) -> dict:
    ids = {k: tok.convert_tokens_to_ids(t) for k, t in (("image_token_id", "<|image_pad|>"), ("video_token_id", "<|video_pad|>"),
                                                       ("vision_start_token_id", "<|vision_start|>"),
                                                       ("vision_end_token_id", "<|vision_end|>"))}
    return ids


def _text(vocab: int, layers: int = 2, **extra) -> dict:
    return dict(vocab_size=vocab, hidden_size=H, intermediate_size=32, num_hidden_layers=layers, num_attention_heads=2,
                num_key_value_heads=1, max_position_embeddings=1024, bos_token_id=1, eos_token_id=1, **extra)


def _flux2_parts(guidance_embeds: bool):
    from diffusers import AutoencoderKLFlux2, FlowMatchEulerDiscreteScheduler, Flux2Transformer2DModel

    transformer = Flux2Transformer2DModel(patch_size=1, in_channels=16, num_layers=1, num_single_layers=1,
                                          attention_head_dim=8, num_attention_heads=2, joint_attention_dim=3 * H,
                                          timestep_guidance_channels=16, axes_dims_rope=(2, 2, 2, 2),
                                          guidance_embeds=guidance_embeds)
    vae = AutoencoderKLFlux2(block_out_channels=(8, 8), down_block_types=("DownEncoderBlock2D",) * 2,
                             up_block_types=("UpDecoderBlock2D",) * 2, layers_per_block=1, latent_channels=4,
                             norm_num_groups=8, sample_size=32)
    return {"scheduler": FlowMatchEulerDiscreteScheduler(), "vae": vae, "transformer": transformer}


def _flux2_dev():
    from diffusers import Flux2Pipeline
    from transformers import (Mistral3Config, Mistral3ForConditionalGeneration, MistralConfig, PixtralImageProcessor,
                              PixtralProcessor, PixtralVisionConfig)

    tok = tiny_llama_tokenizer()
    tok.add_special_tokens({"pad_token": "<pad>", "additional_special_tokens": ["[IMG]", "[IMG_BREAK]", "[IMG_END]"]})
    template = ("{% for m in messages %}{% for c in m['content'] %}{% if c['type'] == 'text' %}[{{ m['role'] }}]"
                "{{ c['text'] }}{% else %}[IMG]{% endif %}{% endfor %}{% endfor %}")
    processor = PixtralProcessor(image_processor=PixtralImageProcessor(size={"longest_edge": 32}, patch_size=8),
                                 tokenizer=tok, patch_size=8, chat_template=template)
    config = Mistral3Config(
        vision_config=PixtralVisionConfig(hidden_size=H, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                                          image_size=32, patch_size=8, head_dim=8),
        text_config=MistralConfig(**_text(len(tok) + 2, layers=3, head_dim=8)),
        image_token_index=tok.convert_tokens_to_ids("[IMG]"), spatial_merge_size=1, vision_feature_layer=-1)
    return Flux2Pipeline(text_encoder=Mistral3ForConditionalGeneration(config), tokenizer=processor, **_flux2_parts(True))


def _flux2_klein():
    from diffusers import Flux2KleinPipeline
    from transformers import Qwen3Config, Qwen3ForCausalLM

    tok = qwen_tokenizer()
    encoder = Qwen3ForCausalLM(Qwen3Config(**_text(len(tok) + 2, layers=3, head_dim=8)))
    return Flux2KleinPipeline(text_encoder=encoder, tokenizer=tok, **_flux2_parts(False))


def _qwen_edit_plus():
    from diffusers import (AutoencoderKLQwenImage, FlowMatchEulerDiscreteScheduler, QwenImageEditPlusPipeline,
                           QwenImageTransformer2DModel)
    from transformers import (Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2VLImageProcessor,
                              Qwen2VLProcessor, Qwen2VLVideoProcessor)

    tok = qwen_tokenizer()
    mrope = {"rope_type": "default", "mrope_section": [1, 1, 2], "rope_theta": 10000.0}
    config = Qwen2_5_VLConfig(
        text_config=_text(len(tok) + 2, rope_parameters=mrope),
        vision_config=dict(depth=1, hidden_size=H, intermediate_size=32, num_heads=2, patch_size=14, spatial_merge_size=2,
                           temporal_patch_size=2, out_hidden_size=H, fullatt_block_indexes=[0], window_size=28),
        **_vision_ids(tok))
    processor = Qwen2VLProcessor(image_processor=Qwen2VLImageProcessor(min_pixels=28 * 28, max_pixels=56 * 56),
                                 video_processor=Qwen2VLVideoProcessor(), tokenizer=tok, chat_template=CHAT)
    transformer = QwenImageTransformer2DModel(patch_size=2, in_channels=16, out_channels=4, num_layers=1,
                                              attention_head_dim=8, num_attention_heads=2, joint_attention_dim=H,
                                              axes_dims_rope=(2, 2, 4))
    vae = AutoencoderKLQwenImage(base_dim=8, z_dim=4, dim_mult=[1, 2], num_res_blocks=1, temperal_downsample=[False],
                                 latents_mean=[0.0] * 4, latents_std=[1.0] * 4)
    return QwenImageEditPlusPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, tokenizer=tok, processor=processor,
                                     text_encoder=Qwen2_5_VLForConditionalGeneration(config), transformer=transformer)


def _qwen_image_21():
    from diffusers import (AutoencoderKLQwenImage21, FlowMatchEulerDiscreteScheduler, QwenImage21Pipeline,
                           QwenImage21Transformer2DModel)
    from transformers import (Qwen2VLImageProcessor, Qwen3VLConfig, Qwen3VLForConditionalGeneration, Qwen3VLProcessor,
                              Qwen3VLVideoProcessor)

    tok = qwen_tokenizer()
    mrope = {"rope_type": "default", "mrope_section": [1, 1, 2], "rope_theta": 10000.0}
    config = Qwen3VLConfig(
        text_config=_text(len(tok) + 2, head_dim=8, rope_parameters=mrope),
        vision_config=dict(depth=1, hidden_size=H, intermediate_size=32, num_heads=2, patch_size=16, spatial_merge_size=2,
                           temporal_patch_size=2, out_hidden_size=H, num_position_embeddings=16,
                           deepstack_visual_indexes=[0]),
        **_vision_ids(tok))
    processor = Qwen3VLProcessor(image_processor=Qwen2VLImageProcessor(min_pixels=32 * 32, max_pixels=64 * 64, patch_size=16),
                                 video_processor=Qwen3VLVideoProcessor(), tokenizer=tok, chat_template=CHAT)
    transformer = QwenImage21Transformer2DModel(patch_size=1, in_channels=8, out_channels=8, num_layers=1,
                                                attention_head_dim=8, num_attention_heads=2, context_in_dim=H,
                                                axes_dims_rope=(2, 2, 4))
    vae = AutoencoderKLQwenImage21(base_dim=8, decoder_base_dim=8, z_dim=8, dim_mult=[1, 1, 1, 1, 1], num_res_blocks=1,
                                   temperal_downsample=[False] * 4, latents_mean=[0.0] * 8, latents_std=[1.0] * 8)
    return QwenImage21Pipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, processor=processor,
                               text_encoder=Qwen3VLForConditionalGeneration(config), transformer=transformer)


def _z_image_omni():
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, ZImageOmniPipeline, ZImageTransformer2DModel
    from transformers import Qwen3Config, Qwen3Model, Siglip2ImageProcessor, Siglip2VisionConfig, Siglip2VisionModel

    tok = qwen_tokenizer()
    siglip = Siglip2VisionModel(Siglip2VisionConfig(hidden_size=H, intermediate_size=32, num_hidden_layers=1,
                                                    num_attention_heads=2, patch_size=16, num_patches=16))
    transformer = ZImageTransformer2DModel(in_channels=4, dim=H, n_layers=1, n_refiner_layers=1, n_heads=2, n_kv_heads=2,
                                           cap_feat_dim=H, siglip_feat_dim=H, axes_dims=[2, 2, 4], axes_lens=[1024, 64, 64])
    vae = AutoencoderKL(block_out_channels=(8, 8), down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2, layers_per_block=1, latent_channels=4, norm_num_groups=8,
                        sample_size=32, shift_factor=0.0, scaling_factor=1.0)
    return ZImageOmniPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, tokenizer=tok, transformer=transformer,
                              text_encoder=Qwen3Model(Qwen3Config(**_text(len(tok) + 2, head_dim=8))), siglip=siglip,
                              siglip_processor=Siglip2ImageProcessor(patch_size=16, max_num_patches=16))


BUILDERS = {"flux2-dev": _flux2_dev, "flux2-klein": _flux2_klein, "qwen-image-edit-plus": _qwen_edit_plus,
            "qwen-image-2.1": _qwen_image_21, "z-image-omni": _z_image_omni}


def save_tiny_multiref(preset: str, folder: Path) -> Path:
    """A tiny random pipeline of ``preset`` saved at ``folder`` (reused when already there)."""
    if preset == "omnigen":
        return save_tiny_omnigen(folder)
    return build_once(folder, lambda tmp: BUILDERS[preset]().save_pretrained(tmp), seed=5)


def tiny_call_settings(preset: str) -> dict:
    """The call sizes that keep a tiny ``preset`` fast: 64 px output and references, 2 steps."""
    return {"preset": preset, "size": 64, "steps": 2, "reference_side": 64, **TINY_SETTINGS[preset]}


def tiny_multiref_settings(preset: str, weights: Path) -> dict:
    """``multiref`` settings for a tiny ``preset`` saved under ``weights``."""
    return {**tiny_call_settings(preset), "model": str(save_tiny_multiref(preset, Path(weights) / f"multiref-{preset}"))}


# -- BLIP-Diffusion ---------------------------------------------------------------------------------
BERT_WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list(string.ascii_lowercase + string.digits + string.punctuation)


def save_tiny_bert_tokenizer(folder: Path) -> Path:
    """A tiny BERT word-piece tokenizer (the Q-Former's; Salesforce's repos leave it to google-bert/bert-base-uncased)."""
    from transformers import BertTokenizer

    return build_once(folder, lambda tmp: BertTokenizer(vocab={w: i for i, w in enumerate(BERT_WORDS)}).save_pretrained(tmp), 0)


def save_tiny_blip_diffusion(folder: Path, controlnet: bool = False) -> Path:
    """A tiny BLIP-Diffusion (or BLIP-Diffusion ControlNet) folder laid out like Salesforce's hub repos: its qformer
    config names no tokenizer (the adapter's ``qformer_tokenizer`` setting supplies one)."""
    from diffusers import ControlNetModel, PNDMScheduler
    from diffusers.pipelines.deprecated.blip_diffusion.blip_image_processing import BlipImageProcessor
    from diffusers.pipelines.deprecated.blip_diffusion.modeling_ctx_clip import ContextCLIPTextModel
    from transformers import CLIPTextConfig
    from transformers.models.blip_2.configuration_blip_2 import Blip2Config

    from ibench.models.blip_diffusion import qformer_class

    bert = save_tiny_bert_tokenizer(Path(folder).parent / "bert-tokenizer")

    def build(tmp: Path) -> None:
        config = Blip2Config(
            vision_config=dict(hidden_size=H, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                               image_size=32, patch_size=8),
            qformer_config=dict(vocab_size=len(BERT_WORDS) + 1, hidden_size=H,
                                intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                                max_position_embeddings=64, encoder_hidden_size=H, cross_attention_frequency=1),
            num_query_tokens=4, tokenizer=str(bert))
        qformer = qformer_class()(config)
        qformer.config.tokenizer = None  # as in Salesforce's repos
        tok = tiny_tokenizer()
        text = ContextCLIPTextModel(CLIPTextConfig(vocab_size=len(tok), hidden_size=H, intermediate_size=32,
                                                   num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=77,
                                                   projection_dim=H, bos_token_id=len(tok) - 2, eos_token_id=len(tok) - 1))
        parts = {"tokenizer": tok, "text_encoder": text, "vae": tiny_vae(), "unet": tiny_unet(cross_attention_dim=H),
                 "qformer": qformer, "scheduler": PNDMScheduler(skip_prk_steps=True),
                 "image_processor": BlipImageProcessor(size={"height": 32, "width": 32})}
        if controlnet:
            parts["controlnet"] = ControlNetModel(
                block_out_channels=(32, 64), layers_per_block=1, in_channels=4, cross_attention_dim=H,
                down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), conditioning_embedding_out_channels=(16, 32),
                norm_num_groups=32, attention_head_dim=4)
        for name, part in parts.items():
            part.save_pretrained(tmp / name)
        _model_index(tmp, controlnet, ctx_begin_pos=2, mean=[0.48, 0.46, 0.41], std=[0.27, 0.26, 0.28])

    return build_once(folder, build, seed=6)


def tiny_blip_settings(weights: Path, controlnet: bool = False) -> dict:
    """``blip-diffusion(-control)`` settings for the tiny model: 64 px, 2 steps, the tiny Q-Former tokenizer."""
    folder = save_tiny_blip_diffusion(Path(weights) / ("blip-control" if controlnet else "blip"), controlnet)
    return {"model": str(folder), "qformer_tokenizer": str(Path(weights) / "bert-tokenizer"), "size": 64, "steps": 2}


def _model_index(folder: Path, controlnet: bool, **config) -> None:
    """``model_index.json`` as Salesforce's repos have it (BLIP parts under the ``blip_diffusion`` library)."""
    import json

    index = {"_class_name": "BlipDiffusionControlNetPipeline" if controlnet else "BlipDiffusionPipeline", **config,
             "tokenizer": ["transformers", "CLIPTokenizer"], "text_encoder": ["blip_diffusion", "ContextCLIPTextModel"],
             "vae": ["diffusers", "AutoencoderKL"], "unet": ["diffusers", "UNet2DConditionModel"],
             "scheduler": ["diffusers", "PNDMScheduler"], "qformer": ["blip_diffusion", "Blip2QFormerModel"],
             "image_processor": ["blip_diffusion", "BlipImageProcessor"]}
    if controlnet:
        index["controlnet"] = ["diffusers", "ControlNetModel"]
    (folder / "model_index.json").write_text(json.dumps(index, indent=2))
