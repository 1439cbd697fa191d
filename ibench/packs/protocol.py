"""Each anchor's judge request and reply format, rebuilt from its pinned prompt files.

The builders are pure: they take the prompt texts (``anchor_files.load``/``strings``) and image paths and
return backend-neutral messages in the judge's format (``{"role", "content"}``, content a string or parts
``{"type": "text", "text"}`` / ``{"type": "image", "path", "preprocess"}``). ``preprocess`` names what the
anchor does to an image before sending it (a backend applies it, then its own downscaling):
``{"resize": [w, h]}``, ``{"resize_like": path}``, ``{"max_area": n, "multiple": m}`` or
``{"concat": [paths], "resize": [w, h]}``. Parsers return ``(value, problem)``; nothing is guessed: a reply
the anchor would have replaced by a random score (OmniContext, VIEScore) is a failure here.
"""

from __future__ import annotations

import json
import re
from typing import Optional, Union

Value = Union[int, list, None]

#: DreamBench++'s score line (eval_concept_preservation.py:145-150): exactly one match, an integer.
_SCORE_LINE = re.compile(r"(score|Score):\s*[a-zA-Z]*\s*(\d+)")
_INT = re.compile(r"^\s*-?\d+\s*$")


def _text(text: str) -> dict:
    return {"type": "text", "text": text}


def _image(path: str, **preprocess) -> dict:
    return {"type": "image", "path": str(path), "preprocess": preprocess}


# -- DreamBench++ (yuangpeng/dreambench_plus@66ca27e) ---------------------------------------------------------

def dreambench_files(aspect: str, category: str) -> tuple[str, str]:
    """The prompt pair an aspect reads (eval_concept_preservation.py:48-55, eval_prompt_following.py:42-49)."""
    kind = "text" if aspect == "pf" else ("style" if category == "style" else "subject")
    return (f"dreambench_plus/prompts/user_prompt_{kind}_full.txt", f"dreambench_plus/prompts/gpt_prompt_{kind}_full.txt")


def dreambench_messages(texts: dict[str, str], aspect: str, category: str, output: str,
                        reference: Optional[str] = None, prompt: str = "") -> list[dict]:
    """CP: the user rubric, the assistant's acknowledgement, then the reference and the output, both
    resized to 512x512 (eval_concept_preservation.py:38-43, :74-84). PF: the same pair, then the prompt
    text and the output (eval_prompt_following.py:31-36, :67-77). Both files are ``.strip()``-ed (:50-55)."""
    user, assistant = (texts[p].strip() for p in dreambench_files(aspect, category))
    last = ([_image(reference, resize=[512, 512])] if aspect == "cp" else [_text(prompt)]) + \
        [_image(output, resize=[512, 512])]
    return [{"role": "user", "content": user}, {"role": "assistant", "content": assistant},
            {"role": "user", "content": last}]


def parse_score_line(reply: str, top: int = 4) -> tuple[Value, str]:
    found = [int(s) for _, s in _SCORE_LINE.findall(reply)]
    if len(found) != 1:
        return None, f"expected one 'Score: N' line, found {len(found)}"
    if not 0 <= found[0] <= top:  # the anchor does not check the range; a 5 would lift a mean past 1
        return None, f"score {found[0]} is outside 0-{top}"
    return found[0], ""


# -- OmniContext (VectorSpaceLab/OmniGen2@0f72fa9, omnicontext/) ------------------------------------------------

OMNICONTEXT_STRINGS = ("_context_no_delimit", "_prompts_0shot_in_context_generation_rule_PF_Single_and_Multiple",
                       "_prompts_0shot_in_context_generation_rule_SC_Single_and_Multiple",
                       "_prompts_0shot_in_context_generation_rule_SC_Scene")


def omnicontext_messages(strings: dict[str, str], question: str, instruction: str, inputs: list[str],
                         output: str, scene: bool) -> list[dict]:
    """One user message: the prompt, the input images (area <= 1024^2, sides floored to multiples of 16,
    test_omnicontext_score.py:25-36), then the output (:50). PF always uses the single/multiple rule: the
    scorer asks PF without ``with_scene`` (omnicontext_score.py:22); SC takes the scene rule for a scene
    task (:23, prompt_generator.py:124-139)."""
    if question == "pf":
        rule = strings["_prompts_0shot_in_context_generation_rule_PF_Single_and_Multiple"]
    else:
        rule = strings["_prompts_0shot_in_context_generation_rule_SC_Scene" if scene
                       else "_prompts_0shot_in_context_generation_rule_SC_Single_and_Multiple"]
    prompt = (strings["_context_no_delimit"] + rule).replace("<instruction>", instruction)
    parts = [_text(prompt)] + [_image(p, max_area=1024 * 1024, multiple=16) for p in inputs] + [_image(output)]
    return [{"role": "user", "content": parts}]


# -- GEdit-Bench (stepfun-ai/Step1X-Edit@570eba6, GEdit-Bench/viescore/) ---------------------------------------

GEDIT_STRINGS = ("_context_no_delimit", "_prompts_0shot_two_image_edit_rule", "_prompts_0shot_tie_rule_SC",
                 "_prompts_0shot_rule_PQ")


def gedit_messages(strings: dict[str, str], question: str, instruction: str, source: str, edited: str) -> list[dict]:
    """SC: context, the two-image rule and the SC rule joined by newlines, with the instruction, then the
    source and the edit; PQ: context and the PQ rule, then the edit alone (viescore/__init__.py:41-47,
    :61-66). The edit is resized to the source's size first (test_gedit_score.py:34)."""
    edit = _image(edited, resize_like=str(source))
    if question == "sc":
        text = "\n".join([strings["_context_no_delimit"], strings["_prompts_0shot_two_image_edit_rule"],
                          strings["_prompts_0shot_tie_rule_SC"]]).replace("<instruction>", instruction)
        return [{"role": "user", "content": [_text(text), _image(source), edit]}]
    text = "\n".join([strings["_context_no_delimit"], strings["_prompts_0shot_rule_PQ"]])
    return [{"role": "user", "content": [_text(text), edit]}]


# -- ImagenHub / VIEScore (TIGER-AI-Lab/VIEScore@2cbea4e, paper_implementation/) --------------------------------

_Q = "paper_implementation/_questions/"
#: sub-task -> (SC rule files after the context file, the placeholder, the anchor's task function).
VIESCORE_SC = {
    "text_guided_ie": (("prompts_0shot/two_image_edit_rule.txt", "prompts_0shot/tie_rule_SC.txt"), "<instruction>"),
    "subject_driven_ig": (("prompts_0shot/subject_image_gen_rule.txt", "prompts_0shot/sdig_rule_SC.txt"), "<prompt>"),
    "multi_concept_ic": (("prompts_0shot/multi_subject_image_gen_rule.txt", "prompts_0shot/msdig_rule_SC.txt"),
                         "<prompt>"),
    "control_guided_ig": (("prompts_0shot/control_image_gen_rule.txt", "prompts_0shot/cig_rule_SC.txt"), "<prompt>"),
    "subject_driven_ie": (("prompts_0shot/subject_image_edit_rule.txt", "prompts_0shot/sdie_rule_SC.txt"), "<subject>"),
}
VIESCORE_CONTEXT = _Q + "context.txt"  # run.py:427's default (run.py:447-449 cannot resolve any other as committed)
VIESCORE_PQ = _Q + "prompts_0shot/rule_PQ.txt"


def viescore_messages(texts: dict[str, str], subset: str, question: str, fill: str, inputs: list,
                      output: str) -> list[dict]:
    """The files joined by newlines (imagen_museum/utils.py:25-45), the placeholder filled, then the SC
    images (run.py: tie :83, cig :221, sdig :266, sdie :314, msdig :361: the input(s), then the output) or,
    for PQ, the output alone (:88, :224, :271, :319, :364). ``inputs`` items are paths or image parts (the
    multi-concept input is two concept photos at 512x512 side by side, multi_concept_ic.py:51-56)."""
    if question == "pq":
        text = "\n".join([texts[VIESCORE_CONTEXT], texts[VIESCORE_PQ]])
        return [{"role": "user", "content": [_text(text), _image(output)]}]
    files, placeholder = VIESCORE_SC[subset]
    text = "\n".join([texts[VIESCORE_CONTEXT]] + [texts[_Q + f] for f in files]).replace(placeholder, fill)
    images = [p if isinstance(p, dict) else _image(p) for p in inputs]
    return [{"role": "user", "content": [_text(text), *images, _image(output)]}]


def concat_image(paths: list[str]) -> dict:
    return {"type": "image", "path": str(paths[0]), "preprocess": {"concat": [str(p) for p in paths],
                                                                    "resize": [512, 512]}}


# -- replies with a JSON object: {"score": N} (OmniContext) or {"score": [a, b]} (VIEScore, GEdit) -------------

def _json_object(reply: str) -> tuple[Optional[dict], str]:
    """The anchors' way to find the JSON: from the first '{' to the last '}' (json_util.py:167-199)."""
    start, end = reply.find("{"), reply.rfind("}") + 1
    if start < 0 or end == 0:
        return None, "no JSON object in the reply"
    try:
        obj = json.loads(reply[start:end].replace("\n", ""))
    except json.JSONDecodeError as exc:
        return None, f"the JSON does not parse ({exc.msg})"
    return (obj, "") if isinstance(obj, dict) else (None, "the JSON is not an object")


def _in_range(value: object, top: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= top


def parse_json_score(reply: str, top: int = 10) -> tuple[Value, str]:
    """OmniContext: ``{"score": N, "reasoning": ...}``; a bare integer reply is accepted as the anchor
    accepts it (json_util.py:176-182)."""
    if _INT.match(reply) and "{" not in reply:
        value = int(reply)
        return (value, "") if _in_range(value, top) else (None, f"score {value} is outside 0-{top}")
    obj, problem = _json_object(reply)
    if obj is None:
        return None, problem
    value = obj.get("score")
    return (value, "") if _in_range(value, top) else (None, f"'score' {value!r} is not an integer 0-{top}")


def _number_in_range(value: object, top: int) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= top


_SCORE_PAIR = re.compile(r"^\[\d+, ?\d+\]$")


def parse_json_score_list(reply: str, top: int = 10) -> tuple[Value, str]:
    """VIEScore/GEdit: ``{"score": [a, b, ...], "reasoning": ...}``; the verdict is the list, of any length (its
    minimum is taken when aggregating, viescore/__init__.py:92-93). Without a JSON object the anchors take a
    bare ``[a, b]`` or a bare integer 0-10 as the scores (Step1X-Edit viescore/utils.py:180-209, VIEScore
    imagen_museum/utils.py:161-188); only what they would replace by a random guess is a failure here."""
    if reply.find("{") < 0 or reply.rfind("}") < 0:
        bracket = reply[reply.find("["):reply.rfind("]") + 1] if "[" in reply and "]" in reply else ""
        if _SCORE_PAIR.match(bracket):
            value = json.loads(bracket)
        elif _INT.match(reply):
            value = [int(reply)]
        else:
            return None, "no JSON object in the reply"
        if not all(_number_in_range(v, top) for v in value):
            return None, f"scores {value!r} are not all in 0-{top}"
        return value, ""
    obj, problem = _json_object(reply)
    if obj is None:
        return None, problem
    value = obj.get("score")
    if _number_in_range(value, top):
        value = [value]
    if not isinstance(value, list) or not value or not all(_number_in_range(v, top) for v in value):
        return None, f"'score' {value!r} is not a list of numbers 0-{top}"
    return value, ""


PARSERS = {"score_line": parse_score_line, "json_score": parse_json_score, "json_score_list": parse_json_score_list}
