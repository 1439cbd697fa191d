"""The catalog tells the truth about every preset and shipped config, and docs/models.md is generated from it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from ibench.core import deprecations
from ibench.errors import IbenchError
from ibench.models import catalog
from ibench.models.catalog_data import API_MODELS, CONFIG_ADAPTERS, WEIGHTS
from ibench.models.multiref_presets import PRESETS

ROOT = Path(__file__).resolve().parents[1]
STATUSES = {"public", "gated", "unreleased"}


def test_every_entry_has_a_status_a_licence_and_sourced_figures():
    for entry in WEIGHTS.values():
        row = entry.row()
        assert row["status"] in STATUSES and row["licence"] and row["licence_url"].startswith("https://"), entry.id
        assert row["source"].startswith("https://") and (row["params_b"] > 0 or not row["parts"])  # tokenizer-only repos
        for placement, fig in row["gpu_memory_gb"].items():
            if fig is not None:
                assert fig["gb"] > 0 and (fig["source"].startswith("https://") or fig["source"].startswith("estimate: "))
    assert WEIGHTS["black-forest-labs/FLUX.2-dev"].status == "gated"
    assert WEIGHTS["Tongyi-MAI/Z-Image-Omni-Base"].status == "unreleased"


def test_the_rule_is_what_the_module_says():
    flux = WEIGHTS["black-forest-labs/FLUX.2-dev"]
    assert flux.memory("none").gb == pytest.approx(2 * (32 + 24 + 0.08) + 3, abs=0.05)  # every part in bf16
    assert flux.memory("model").gb == pytest.approx(2 * 32 + 3)  # the largest part
    assert flux.memory("8bit").gb == pytest.approx(32 + 3)  # quantized transformer, one part at a time
    assert flux.memory("4bit").source.startswith("https://github.com/black-forest-labs/flux2")  # the guide's ~20 GB
    sd15 = WEIGHTS["stable-diffusion-v1-5/stable-diffusion-v1-5"]
    assert sd15.memory("8bit") is None and sd15.memory("sequential").gb <= sd15.memory("model").gb


def test_every_preset_and_every_shipped_config_is_in_the_catalog(cli):
    for name, preset in PRESETS.items():
        assert preset.model in WEIGHTS, name
    from ibench.cli.options import packaged_configs

    assert set(packaged_configs()) == set(CONFIG_ADAPTERS)
    code, out, err = cli("list", "configs", "--json")
    assert code == 0, err
    rows = {r["name"]: r for r in json.loads(out)}
    for name, row in rows.items():
        assert row["status"] in STATUSES, name
        if row["adapter"] == "api":
            assert row["api_model"]["id"] in API_MODELS
            continue
        assert row["weights"] and all(w.get("licence") for w in row["weights"]), name
        assert row["gpu_memory_gb"]["none"]["gb"] > 0, name
    assert rows["z-image-omni"]["status"] == "unreleased" and rows["flux2-dev"]["status"] == "gated"
    assert rows["flux2-dev"]["offload"] == "auto"
    sd = rows["sd15-composite"]  # model + IP-Adapter + two ControlNets, loaded together
    assert len(sd["weights"]) == 4 and sd["gpu_memory_gb"]["none"]["gb"] > WEIGHTS[sd["weights"][0]["id"]].memory("none").gb


def test_list_models_json_has_status_licence_and_memory_for_every_preset(cli):
    code, out, err = cli("list", "models", "--json")
    assert code == 0, err
    rows = {r["name"]: r for r in json.loads(out)}
    presets = rows["multiref"]["presets"]
    assert set(presets) == set(PRESETS)
    for name, preset in presets.items():
        w = preset["weights"]
        assert w["status"] in STATUSES and w["licence"] and w["gpu_memory_gb"]["model"]["gb"] > 0, name
    assert rows["sd-composite"]["weights"][0]["id"] == "stable-diffusion-v1-5/stable-diffusion-v1-5"
    assert {m["id"] for m in rows["api"]["models"]} == {"gpt-image-2", "gemini-3.1-flash-image"}


def test_docs_models_md_is_generated_from_the_catalog():
    text = (ROOT / "docs" / "models.md").read_text()
    from ibench.cli.listing import BEGIN, END

    block = text.split(BEGIN, 1)[1].split(END, 1)[0]
    assert block == "\n" + catalog.markdown(), "docs/models.md is stale: ibench list models --write-doc docs/models.md"


def test_an_unreleased_preset_is_refused_in_one_line(cli, tmp_path):
    code, _, err = cli("run", "-t", "style_subject", "-m", "multiref", "--model-config", "z-image-omni",
                       "-d", "synthetic", "-o", tmp_path / "runs", "--no-score")
    lines = [x for x in err.splitlines() if x.strip()]
    assert code == 2 and len(lines) == 1, err
    assert "not released" in lines[0] and f"checked {catalog.CHECKED}" in lines[0] and "Z-Image-Omni-Base" in lines[0]
    assert not (tmp_path / "runs").exists()
    from ibench.models import get_model

    with pytest.raises(IbenchError, match="not released"):
        get_model("multiref", preset="z-image-omni")


def test_a_gated_models_missing_weights_line_says_accept_the_licence_and_log_in(cli, tmp_path):
    code, _, err = cli("run", "-t", "style_subject", "-m", "multiref", "--model-config", "flux2-dev",
                       "-d", "synthetic", "-o", tmp_path / "runs", "--no-score")  # offline (conftest)
    lines = [x for x in err.splitlines() if x.strip()]
    assert code == 2 and len(lines) == 1, err
    assert "hf download black-forest-labs/FLUX.2-dev" in lines[0]
    assert "accept its licence at https://huggingface.co/black-forest-labs/FLUX.2-dev" in lines[0]
    assert "hf auth login" in lines[0] and "HF_TOKEN" in lines[0]


def _defaults() -> dict[str, str]:
    """Every model id ibench uses by default: configs, adapter defaults, judge presets, docs' "default `x`"."""
    from ibench.models.api.providers import default_model

    found = {f"provider {p}": default_model(p) for p in ("openai", "gemini")}
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        found[str(path.name)] = (yaml.safe_load(path.read_text()) or {}).get("model")
    for path in sorted((ROOT / "evaluators" / "judge" / "configs").glob("*.yaml")):
        found[f"judge {path.name}"] = yaml.safe_load(path.read_text())["model"]
    for doc in ("docs/models.md", "docs/judge.md", "README.md"):
        for n, model in enumerate(re.findall(r"default `([^`]+)`", (ROOT / doc).read_text())):
            found[f"{doc} #{n}"] = model
    return found


def test_no_retired_model_is_a_default_anywhere():
    for where, model in _defaults().items():
        assert deprecations.status(model or "")[0] != "retired", (where, model)
    # the old judge preset is kept, warned about now and refused once OpenAI shuts its snapshot down
    assert deprecations.status("gpt-4.1-2025-04-14", deprecations.dt.date(2027, 1, 14))[0] == "retired"
    assert deprecations.status(_defaults()["judge gpt-6-luna.yaml"], deprecations.dt.date(2027, 1, 14))[0] == "ok"
