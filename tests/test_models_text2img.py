"""text2img: any diffusers text-to-image pipeline by path or id, given only the target prompt."""

from __future__ import annotations

import pytest
import torch

from ibench.errors import IbenchError
from ibench.models import get_model
from ibench.core.paths import DataRoot
from ibench.core.registry import get_task
from ibench.run import GenerateOptions, generate
from tiny_pipelines import save_tiny_sd

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def sd_path(tmp_path_factory) -> str:
    return str(save_tiny_sd(tmp_path_factory.getbasetemp() / "tiny-weights" / "sd"))


def test_text_only_gets_the_target_prompt(sd_path, shared_data, tmp_path):
    model = get_model("text2img", model=sd_path, size=64, steps=2, guidance=1.0)
    prompts = []
    call = model.pipe.__call__
    model.pipe = lambda **kw: (prompts.extend(kw["prompt"]), call(**kw))[1]
    store, counts = generate(get_task("txt2img"), model, DataRoot(shared_data, derived_dir=tmp_path / "d"), GenerateOptions(out=tmp_path,
                             limit=2, samples=1, batch_size=2, progress=False))
    assert counts["generated"] == 2
    assert prompts == [i.instruction.target_prompt for i in store.instances()]
    assert store.manifest().identity.model_settings["model"] == sd_path


def test_refuses_tasks_with_references(sd_path, shared_data, tmp_path):
    model = get_model("text2img", model=sd_path, size=64, steps=2)
    with pytest.raises(IbenchError, match="cannot use the style, subject references"):
        generate(get_task("style_subject"), model, DataRoot(shared_data, derived_dir=tmp_path), GenerateOptions(out=tmp_path, limit=1,
                 progress=False))


def test_offline_missing_model_is_named():
    with pytest.raises(IbenchError, match="'ibench-test/missing-t2i' is not in the Hugging Face cache"):
        get_model("text2img", model="ibench-test/missing-t2i")


@pytest.mark.parametrize("settings,message", [
    ({"steps": "abc"}, "setting 'steps' must be a whole number >= 1, not 'abc'"),
    ({"size": 0}, "setting 'size' must be a whole number >= 1"),
    ({"steps": True}, "setting 'steps' must be a whole number >= 1"),
    ({"guidance": "high"}, "setting 'guidance' must be a number"),
    ({"call_args": "x"}, "setting 'call_args' must be a mapping"),
])
def test_wrong_types_are_one_line_before_loading(settings, message):
    with pytest.raises(IbenchError, match=message.replace("(", r"\(")):
        get_model("text2img", **settings)
