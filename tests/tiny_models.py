"""Builders of tiny random models for tests: built in code, saved to a folder, reloaded from it.

Each builder takes a folder, writes the model there (``save_pretrained``) and returns its path.
Other tests may append builders here.
"""

from __future__ import annotations

from pathlib import Path


def tiny_depth_model(folder: str | Path, size: int = 32, seed: int = 0) -> Path:
    """A tiny random ``DPTForDepthEstimation`` + ``DPTImageProcessor`` in ``folder``.

    Loads with ``transformers.pipeline("depth-estimation", model=folder)``; ~100k parameters,
    works on ``size`` x ``size`` inputs (the processor resizes to that).
    """
    import torch
    from transformers import DPTConfig, DPTForDepthEstimation, DPTImageProcessor

    folder = Path(folder)
    if (folder / "config.json").is_file():
        return folder
    torch.manual_seed(seed)
    config = DPTConfig(hidden_size=32, num_hidden_layers=4, num_attention_heads=4, intermediate_size=37,
                       image_size=size, patch_size=8, backbone_out_indices=[0, 1, 2, 3],
                       neck_hidden_sizes=[8, 16, 16, 32], reassemble_factors=[4, 2, 1, 0.5],
                       fusion_hidden_size=16, head_in_index=-1, is_hybrid=False,
                       initializer_range=0.2)  # larger than the default so outputs vary with the input
    model = DPTForDepthEstimation(config).eval()
    model.save_pretrained(folder)
    DPTImageProcessor(size={"height": size, "width": size}, keep_aspect_ratio=False,
                      do_rescale=True, do_normalize=True).save_pretrained(folder)
    return folder
