"""Placement from the GPU's free memory (fake numbers: no GPU here) and diffusers' quantization config."""

from __future__ import annotations

import pytest

from ibench.errors import IbenchError
from ibench.models import placement
from ibench.models.catalog_data import WEIGHTS
from ibench.models.placement import choose, quantization_config

FLUX = [WEIGHTS["black-forest-labs/FLUX.2-dev"]]
H100, H200 = 79.6, 140.0  # free GB on an idle 80 GB / 141 GB card


def test_flux2_dev_runs_on_an_80_gb_card_by_default():
    decision = choose(FLUX, "auto", None, H100, "flux2-dev")
    assert decision.offload == "model" and decision.quantize is None and decision.need.gb == pytest.approx(67)
    assert choose(FLUX, "auto", None, H200, "flux2-dev").offload == "none"  # everything fits an H200 (BFL's guide)


def test_auto_falls_back_to_sequential_and_names_the_faster_quantized_placement():
    decision = choose(FLUX, "auto", None, 48.0, "flux2-dev")
    assert decision.offload == "sequential" and "quantize: 8bit" in decision.note


def test_an_explicit_placement_that_cannot_fit_is_one_line_naming_what_fits():
    with pytest.raises(IbenchError) as exc:
        choose(FLUX, False, None, H100, "model 'multiref' (black-forest-labs/FLUX.2-dev)")
    line = str(exc.value)
    assert "\n" not in line and "offload: none needs ~115.2 GB" in line and "79.6 GB free" in line
    assert "offload: model (~67 GB)" in line and "quantize: 8bit (~35 GB)" in line
    assert "quantize: 4bit (~20 GB (card))" in line
    assert "offload: none" not in line.split("what fits:")[1]
    with pytest.raises(IbenchError, match="quantize: 4bit needs ~20 GB"):
        choose(FLUX, "model", "4bit", 16.0, "flux2-dev")
    assert choose(FLUX, "model", "4bit", 24.0, "flux2-dev").need.gb == 20  # the card's figure
    with pytest.raises(IbenchError, match="no placement fits"):
        choose(FLUX, "auto", None, 2.0, "flux2-dev")


def test_without_a_gpu_or_figures_nothing_is_weighed():
    assert choose(FLUX, "auto", None, None, "x").offload == "none"  # the CPU
    assert choose([], "auto", None, 8.0, "x").offload == "none"
    assert choose([], "sequential", None, 8.0, "x").offload == "sequential"
    with pytest.raises(IbenchError, match="expected auto, false, model or sequential"):
        choose(FLUX, "gpu", None, H100, "x")


def test_free_memory_comes_from_mem_get_info(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (79_600_000_000, 85_000_000_000))
    assert placement.gpu_free_gb(torch.device("cuda:0")) == pytest.approx(79.6)
    assert placement.gpu_free_gb(torch.device("cpu")) is None


@pytest.fixture
def backend_installed(monkeypatch):
    monkeypatch.setattr(placement, "require_backend", lambda backend, quantize: None)


def test_the_bitsandbytes_config_quantizes_the_transformer_and_the_text_encoder(backend_installed):
    import torch

    eight = quantization_config(FLUX, "8bit")
    assert eight.quant_backend == "bitsandbytes_8bit" and eight.quant_kwargs == {"load_in_8bit": True}
    assert eight.components_to_quantize == ["transformer", "text_encoder"]
    four = quantization_config(FLUX, "4bit", "bitsandbytes", torch.bfloat16)
    assert four.quant_backend == "bitsandbytes_4bit" and four.components_to_quantize == ["transformer", "text_encoder"]
    assert four.quant_kwargs == {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4",
                                 "bnb_4bit_compute_dtype": torch.bfloat16}
    assert quantization_config(FLUX, None) is None
    with pytest.raises(IbenchError, match="names no part"):
        quantization_config([WEIGHTS["stable-diffusion-v1-5/stable-diffusion-v1-5"]], "8bit")


def test_a_missing_backend_is_one_line_naming_the_extra(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("bitsandbytes", "torchao") else real(name, *a))
    for backend, module in (("bitsandbytes", "bitsandbytes"), ("torchao", "torchao")):
        with pytest.raises(IbenchError) as exc:
            quantization_config(FLUX, "4bit", backend)
        assert f"({module} not installed): pip install 'ibench[quant]'" in str(exc.value)
    with pytest.raises(IbenchError, match="expected bitsandbytes or torchao"):
        quantization_config(FLUX, "4bit", "gptq")


def test_settings_take_auto_and_quantize_and_quantize_enters_the_run_id():
    from ibench.models.multiref import MultiRefSettings
    from ibench.models.settings import parse_settings

    plain = parse_settings("multiref", MultiRefSettings, {"preset": "flux2-dev"})
    assert plain.offload == "auto" and "offload" not in plain.identity() and "quantize" not in plain.identity()
    assert parse_settings("multiref", MultiRefSettings, {"quantize": "8bit"}).identity()["quantize"] == "8bit"
    with pytest.raises(IbenchError, match="setting 'offload' must be one of auto"):
        parse_settings("multiref", MultiRefSettings, {"offload": "gpu"})


def test_run_refuses_a_placement_that_cannot_fit_before_anything_loads(cli, monkeypatch, tmp_path):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (40_000_000_000, 48_000_000_000))
    code, _, err = cli("run", "-t", "style_subject", "-m", "multiref", "--model-config", "flux2-dev", "-a", "offload=model",
                       "-d", "synthetic", "-o", tmp_path / "runs", "--no-score")
    lines = [x for x in err.splitlines() if x.strip()]
    assert code == 2 and len(lines) == 1, err
    assert "offload: model needs ~67 GB" in lines[0] and "40.0 GB free" in lines[0] and "quantize: 8bit (~35 GB)" in lines[0]
    assert not (tmp_path / "runs").exists()
