"""The multi-modal instruction: markers, kinds, paths, files."""

import pytest
from pydantic import ValidationError

from ibench.errors import IbenchError
from ibench.core.instruction import Instruction, Reference

DOG = ["dreambench/dog/00.jpg", "dreambench/dog/01.jpg"]
STYLE = ["styles/classic/starry_night.jpg"]


def make(text, refs, prompt="a dog"):
    return Instruction(text=text, references=refs, target_prompt=prompt)


def test_valid_instruction_renders_markers():
    ins = make("Render [ref#1] in the style of [ref#2]: a dog",
               [Reference(marker="ref#1", kind="subject", caption="the dog", images=DOG),
                Reference(marker="ref#2", kind="style", caption="the starry night", images=STYLE)])
    assert ins.capabilities == {"subject", "style"}
    assert ins.render(lambda r: f"<{r.kind}>") == "Render <subject> in the style of <style>: a dog"
    assert ins.plain_text() == "Render the dog in the style of the starry night: a dog"


@pytest.mark.parametrize("text,refs,message", [
    ("[ref#1] and [ref#2]", [Reference(marker="ref#1", kind="subject", images=DOG)], "ref#2] is used in the text but not defined"),
    ("[ref#1]", [Reference(marker="ref#1", kind="subject", images=DOG),
                 Reference(marker="ref#1", kind="style", images=STYLE)], "defined more than once"),
    ("[ref#1]", [Reference(marker="ref#1", kind="subject", images=DOG),
                 Reference(marker="ref#2", kind="style", images=STYLE)], "ref#2 is defined but never used"),
])
def test_marker_errors(text, refs, message):
    with pytest.raises(ValidationError, match=message):
        make(text, refs)


def test_control_needs_its_type_and_known_kinds():
    with pytest.raises(ValidationError, match="control"):
        Reference(marker="ref#1", kind="control", images=DOG)
    with pytest.raises(ValidationError):
        Reference(marker="ref#1", kind="pose", images=DOG)
    with pytest.raises(ValidationError):
        Reference(marker="ref#1", kind="control", control="normals", images=DOG)
    assert Reference(marker="ref#1", kind="control", control="edge", images=DOG).capability == "control:edge"


def test_paths_must_stay_inside_the_root(data_root):
    for bad in ["../secrets.jpg", "/etc/passwd", "dreambench/../../x.jpg", "derived/../../x.jpg"]:
        ins = make("[ref#1]", [Reference(marker="ref#1", kind="subject", images=[bad])])
        with pytest.raises(IbenchError, match="data root|relative"):
            ins.check_files(data_root)


def test_missing_and_corrupt_images(data_root, tmp_path):
    ins = make("[ref#1]", [Reference(marker="ref#1", kind="subject", images=["dreambench/dog/99.jpg"])])
    with pytest.raises(IbenchError, match="not found"):
        ins.check_files(data_root)
    from ibench.core.paths import DataRoot

    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    root = DataRoot(tmp_path)
    ins = make("[ref#1]", [Reference(marker="ref#1", kind="subject", images=["bad.jpg"])])
    with pytest.raises(IbenchError, match="does not decode"):
        ins.check_files(root)
    make("[ref#1]", [Reference(marker="ref#1", kind="subject", images=DOG)]).check_files(data_root)
