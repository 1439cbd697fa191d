"""The catalog's entries (``ibench.models.catalog`` explains the fields and the memory rule).

Each status, licence and parameter count was read on catalog.CHECKED from the page in ``card``;
figures in ``card_memory`` are the page's own; everything else is an estimate the catalog labels so.
"""

from __future__ import annotations

from .catalog_types import APIModel, Figure, Part, Weights

HF = "https://huggingface.co/"
FLUX2_README = "https://github.com/black-forest-labs/flux2/blob/f72e0dc36402d814546ed8f1331598bcc3d38735/README.md"
FLUX2_GUIDE = ("https://github.com/black-forest-labs/flux2/blob/5967a8fcb8925ad91595c22100b4b04ec5510d13/"
               "docs/flux2_dev_hf.md")
ZIMAGE_README = "https://github.com/Tongyi-MAI/Z-Image/blob/44314b8e1f637a40e8b244fd3fe24ba64925de05/README.md"
APACHE = "https://www.apache.org/licenses/LICENSE-2.0"
OPENRAIL_M = HF + "spaces/CompVis/stable-diffusion-license"
OPENRAIL_PP = HF + "stabilityai/stable-diffusion-xl-base-1.0/blob/main/LICENSE.md"


# the 8-bit / 4-bit placements quantize the transformer and the text encoder (pipeline component names)
def dit(params_b: float) -> Part:
    return Part("transformer", params_b, quantize=True)


def text_encoder(params_b: float) -> Part:
    return Part("text_encoder", params_b, quantize=True, library="transformers")


_ENTRIES = [
    # -- multiref presets ------------------------------------------------------------------------
    Weights("black-forest-labs/FLUX.2-dev", "FLUX.2 [dev]", "gated", "FLUX.2 [dev] Non-Commercial License",
            HF + "black-forest-labs/FLUX.2-dev", FLUX2_README,
            (dit(32), text_encoder(24), Part("vae", 0.08)), activations_gb=3.0,
            # the guide: everything fits an H200 (141 GB) but not an H100 (80 GB); each part fits an H100
            # alone, so model CPU offload runs there; 4-bit transformer + text encoder with offload: ~20 GB
            card_memory={"4bit": Figure(20, FLUX2_GUIDE)},
            note="32B transformer, Mistral Small 24B text encoder (BFL README); the guide: all parts fit an H200, "
                 "not an H100, where each part fits alone (model offload); 8-bit for 40-48 GB cards"),
    Weights("black-forest-labs/FLUX.2-klein-4B", "FLUX.2 [klein] 4B", "public", "Apache-2.0", APACHE,
            HF + "black-forest-labs/FLUX.2-klein-4B", (dit(4), text_encoder(4), Part("vae", 0.08)),
            activations_gb=2.0, card_memory={"model": Figure(13, HF + "black-forest-labs/FLUX.2-klein-4B")},
            note="4B transformer, Qwen3 4B text encoder; the card: fits in ~13 GB (with model offload)"),
    Weights("Qwen/Qwen-Image-Edit-2511", "Qwen-Image-Edit-2511", "public", "Apache-2.0", APACHE,
            HF + "Qwen/Qwen-Image-Edit-2511", (dit(20), text_encoder(8.29), Part("vae", 0.13)), activations_gb=3.0,
            note="20B MMDiT (Qwen-Image), Qwen2.5-VL-7B text encoder (8.29B, its card)"),
    Weights("Qwen/Qwen-Image-2.1", "Qwen-Image 2.1", "public", "Qwen Research License (non-commercial)",
            HF + "Qwen/Qwen-Image-2.1/blob/main/LICENSE", HF + "Qwen/Qwen-Image-2.1",
            (dit(7), text_encoder(8.77), Part("vae", 0.34)), activations_gb=3.0,
            note="7B DiT, Qwen3-VL-8B text encoder; released 2026-09-20"),
    Weights("Tongyi-MAI/Z-Image-Omni-Base", "Z-Image Omni Base", "unreleased", "Apache-2.0 (the released Z-Image models)",
            HF + "Tongyi-MAI/Z-Image", ZIMAGE_README,
            (dit(6), text_encoder(4), Part("siglip", 0.4), Part("vae", 0.08)), activations_gb=2.0,
            note="the Z-Image README lists Z-Image-Omni-Base as 'To be released' on Hugging Face and ModelScope"),
    Weights("Shitao/OmniGen-v1-diffusers", "OmniGen v1", "public", "MIT", HF + "Shitao/OmniGen-v1",
            HF + "Shitao/OmniGen-v1", (dit(3.8), Part("vae", 0.08)), activations_gb=4.0,
            download=Figure(15.8, HF + "Shitao/OmniGen-v1/tree/main"),
            note="3.8B (Phi-3) transformer stored in fp32 (15.5 GB) + 335 MB VAE; loaded in bf16"),
    # -- sd-composite, text2img, blip-diffusion ----------------------------------------------------
    Weights("stable-diffusion-v1-5/stable-diffusion-v1-5", "Stable Diffusion 1.5", "public", "CreativeML OpenRAIL-M",
            OPENRAIL_M, HF + "stable-diffusion-v1-5/stable-diffusion-v1-5",
            (Part("unet", 0.86), Part("text_encoder", 0.123), Part("vae", 0.084)), activations_gb=1.5,
            note="860M UNet, 123M CLIP text encoder"),
    Weights("h94/IP-Adapter", "IP-Adapter Plus (SD 1.5) + ViT-H image encoder", "public", "Apache-2.0", APACHE,
            HF + "h94/IP-Adapter", (Part("ip_adapter", 0.1), Part("image_encoder", 0.632)), activations_gb=0.5),
    Weights("lllyasviel/control_v11p_sd15_canny", "ControlNet 1.1 Canny (SD 1.5)", "public", "CreativeML OpenRAIL-M",
            OPENRAIL_M, HF + "lllyasviel/control_v11p_sd15_canny", (Part("controlnet", 0.361),), activations_gb=0.5),
    Weights("lllyasviel/control_v11f1p_sd15_depth", "ControlNet 1.1 Depth (SD 1.5)", "public", "CreativeML OpenRAIL-M",
            OPENRAIL_M, HF + "lllyasviel/control_v11f1p_sd15_depth", (Part("controlnet", 0.361),), activations_gb=0.5),
    Weights("stabilityai/stable-diffusion-xl-base-1.0", "SDXL base 1.0", "public", "CreativeML Open RAIL++-M",
            OPENRAIL_PP, HF + "stabilityai/stable-diffusion-xl-base-1.0",
            (Part("unet", 2.6), Part("text_encoder", 0.123), Part("text_encoder_2", 0.695), Part("vae", 0.084)),
            activations_gb=3.0, note="3.5B base (2.6B UNet)"),
    Weights("diffusers/controlnet-canny-sdxl-1.0", "ControlNet Canny (SDXL)", "public", "CreativeML Open RAIL++-M",
            OPENRAIL_PP, HF + "diffusers/controlnet-canny-sdxl-1.0", (Part("controlnet", 1.25),), activations_gb=1.0),
    Weights("diffusers/controlnet-depth-sdxl-1.0", "ControlNet Depth (SDXL)", "public", "CreativeML Open RAIL++-M",
            OPENRAIL_PP, HF + "diffusers/controlnet-depth-sdxl-1.0", (Part("controlnet", 1.25),), activations_gb=1.0),
    Weights("Salesforce/blipdiffusion", "BLIP-Diffusion", "public", "Apache-2.0", APACHE, HF + "Salesforce/blipdiffusion",
            (Part("unet", 0.86), Part("text_encoder", 0.123), Part("qformer", 0.4), Part("vae", 0.084)),
            activations_gb=1.5, note="SD 1.5 UNet + BLIP-2 Q-Former (parameter split estimated)"),
    Weights("Salesforce/blipdiffusion-controlnet", "BLIP-Diffusion + ControlNet (Canny)", "public", "Apache-2.0",
            APACHE, HF + "Salesforce/blipdiffusion-controlnet",
            (Part("unet", 0.86), Part("text_encoder", 0.123), Part("qformer", 0.4), Part("controlnet", 0.361),
             Part("vae", 0.084)), activations_gb=1.5, note="parameter split estimated"),
    Weights("google-bert/bert-base-uncased", "BERT tokenizer (BLIP-Diffusion's Q-Former)", "public", "Apache-2.0",
            APACHE, HF + "google-bert/bert-base-uncased", (), activations_gb=0.0,
            note="tokenizer files only (huggingface/diffusers#5804): no GPU memory"),
    # -- judges (evaluators/judge/configs) -----------------------------------------------------------
    Weights("Qwen/Qwen2.5-VL-7B-Instruct", "Qwen2.5-VL 7B (judge)", "public", "Apache-2.0", APACHE,
            HF + "Qwen/Qwen2.5-VL-7B-Instruct", (Part("model", 8.29),), activations_gb=1.5),
    Weights("Qwen/Qwen2.5-VL-72B-Instruct", "Qwen2.5-VL 72B (judge, served by vLLM)", "public", "Qwen License",
            HF + "Qwen/Qwen2.5-VL-72B-Instruct/blob/main/LICENSE", HF + "Qwen/Qwen2.5-VL-72B-Instruct",
            (Part("model", 73.4),), activations_gb=8.0, note="the vllm preset shards it over 4 GPUs"),
]
WEIGHTS: dict[str, Weights] = {e.id: e for e in _ENTRIES}

API_MODELS: dict[str, APIModel] = {m.id: m for m in [
    APIModel("gpt-image-2", "openai", "GPT Image 2", "https://openai.com/policies/terms-of-use",
             "https://developers.openai.com/api/docs/models/gpt-image-2",
             note="default of provider openai; snapshot gpt-image-2-2026-04-21; no shutdown announced"),
    APIModel("gemini-3.1-flash-image", "gemini", "Gemini 3.1 Flash Image", "https://ai.google.dev/gemini-api/terms",
             "https://ai.google.dev/gemini-api/docs/deprecations",
             note="default of provider gemini; GA 2026-05-28; no shutdown announced"),
    APIModel("gpt-6-luna", "openai", "GPT-6 Luna (judge preset gpt-6-luna)", "https://openai.com/policies/terms-of-use",
             "https://developers.openai.com/api/docs/models/gpt-6-luna",
             note="OpenAI's replacement for the gpt-4.1 snapshots; text and image input", role="judge"),
]}

#: shipped model configs (configs/*.yaml) -> the adapter that reads them
CONFIG_ADAPTERS = {
    "blip-diffusion": "blip-diffusion", "blip-diffusion-control": "blip-diffusion-control",
    "flux2-dev": "multiref", "flux2-klein": "multiref", "qwen-image-2.1": "multiref",
    "qwen-image-edit-plus": "multiref", "z-image-omni": "multiref", "omnigen-multiref": "multiref",
    "omnigen": "omnigen", "sd15-composite": "sd-composite", "sdxl-composite": "sd-composite",
    "text2img-sd15": "text2img", "openai-gpt-image": "api", "gemini-image": "api",
}
