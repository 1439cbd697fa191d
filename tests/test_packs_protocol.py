"""Anchor prompt files fetched at a pinned commit (from a loopback mirror) and checked; the anchors'
requests rebuilt from them; their reply formats parsed without guessing; the registry, published rows
and the cost estimate."""

from __future__ import annotations

import hashlib

import pytest

from ibench.errors import IbenchError
from ibench.packs import PACKS, AnchorFile, anchor_files, cost, get_pack, omnicontext, protocol
from ibench.report.packs import key as report_key
from loopback import FileMirror as Mirror

COMMIT = "0123456789abcdef0123456789abcdef01234567"
PROMPTS = b'_context_no_delimit = """Judge the image."""\nRULE = "Rate <instruction> 0-10"\nraise SystemExit(3)\n'


def pin_for(data: bytes, path: str = "bench/prompts.py") -> AnchorFile:
    return AnchorFile("owner/bench", COMMIT, path, hashlib.sha256(data).hexdigest(), len(data))


def test_an_anchor_file_is_fetched_once_at_its_commit_then_read_from_the_cache():
    pin = pin_for(PROMPTS)
    assert pin.url == f"https://raw.githubusercontent.com/owner/bench/{COMMIT}/bench/prompts.py"
    with Mirror({f"/owner/bench/{COMMIT}/bench/prompts.py": PROMPTS}) as mirror:
        assert anchor_files.load(pin, base_url=mirror.url) == PROMPTS.decode()
        assert anchor_files.load(pin, base_url=mirror.url) == PROMPTS.decode()
        assert mirror.requests == [f"/owner/bench/{COMMIT}/bench/prompts.py"]
    assert anchor_files.load(pin, base_url="http://127.0.0.1:9") == PROMPTS.decode()  # offline: the cache


def test_a_changed_anchor_file_is_refused_and_not_kept():
    pin = pin_for(PROMPTS, "bench/other.py")
    with Mirror({f"/owner/bench/{COMMIT}/bench/other.py": PROMPTS.replace(b"0-10", b"1-10")}) as mirror:
        with pytest.raises(IbenchError, match=r"owner/bench@0123456789:bench/other.py does not match its pin"):
            anchor_files.load(pin, base_url=mirror.url)
    assert not anchor_files.cached_path(pin).exists()


def test_python_prompt_constants_are_read_without_running_the_file():
    pin = pin_for(PROMPTS)
    with Mirror({f"/owner/bench/{COMMIT}/bench/prompts.py": PROMPTS}) as mirror:
        got = anchor_files.strings(pin, ("_context_no_delimit", "RULE"), base_url=mirror.url)  # no SystemExit
        assert got == {"_context_no_delimit": "Judge the image.", "RULE": "Rate <instruction> 0-10"}
        with pytest.raises(IbenchError, match="no string constant 'MISSING'"):
            anchor_files.strings(pin, ("MISSING",), base_url=mirror.url)


def test_every_pack_pins_its_prompt_files_and_revisions():
    for pack in PACKS.values():
        assert pack.judge.prompts and all(p.commit in p.url and len(p.sha256) == 64 for p in pack.judge.prompts)
        assert pack.judge.reply in protocol.PARSERS and pack.published() is not None
        assert pack.task.startswith("pack_") and pack.licence
    with pytest.raises(IbenchError, match="did you mean 'gedit_bench'"):
        get_pack("gedit-bench")


def test_published_rows_carry_sources_and_plausible_values():
    gedit = get_pack("gedit_bench").published()
    assert {r["metric"] for r in gedit} == {"sc", "pq", "o"} and all(0 < r["value"] <= 10 for r in gedit)
    v11 = {(r["metric"], r["judge"]): r["value"] for r in gedit if r["model"] == "Step1X-Edit v1.1"}
    assert v11[("o", "gpt-4.1")] == 6.97 and v11[("o", "Qwen2.5-VL-72B-AWQ")] == 7.35
    dbp = get_pack("dreambench_plus").published()
    assert all(0 < r["value"] <= 1 and "dreambenchplus.github.io@0a6ba69" in r["source"] for r in dbp)
    board = {(r["model"], r["metric"]): r["value"] for r in dbp}
    methods = {m for m, _ in board}
    assert len(methods) == 7 and len(board) == 21
    for m in methods:  # the leaderboard's CP·PF is the product of its 3-decimal means (benchmarking.py:149)
        assert round(round(board[m, "cp"], 3) * round(board[m, "pf"], 3), 3) == board[m, "cp_x_pf"], m
    omni = get_pack("omnicontext").published()
    names, _ = omnicontext.headlines([{"key": "k", "task_type": "SINGLE/character", "language": "en", "pf": 8, "sc": 9}])
    assert omni and {report_key(r["subset"], r["metric"]) for r in omni} <= set(names)  # shown beside the headline
    assert all(0 < r["value"] <= 10 and "arXiv:2506.18871" in r["source"] for r in omni)


TEXTS = {p: f"<{p.rsplit('/', 1)[-1]}>\n" for p in (
    *protocol.dreambench_files("cp", "style"), *protocol.dreambench_files("cp", "object"),
    *protocol.dreambench_files("pf", "object"))}


def test_dreambench_requests_follow_the_anchors_turns():
    cp = protocol.dreambench_messages(TEXTS, "cp", "style", "out.png", reference="ref.jpg")
    assert [m["role"] for m in cp] == ["user", "assistant", "user"]
    assert cp[0]["content"] == "<user_prompt_style_full.txt>" and cp[1]["content"] == "<gpt_prompt_style_full.txt>"
    assert [p["preprocess"] for p in cp[2]["content"]] == [{"resize": [512, 512]}] * 2
    pf = protocol.dreambench_messages(TEXTS, "pf", "object", "out.png", prompt="a kitten in the snow")
    assert pf[0]["content"] == "<user_prompt_text_full.txt>" and pf[2]["content"][0]["text"] == "a kitten in the snow"


def test_omnicontext_asks_pf_with_the_single_rule_even_for_a_scene():
    strings = {name: f"[{name}] <instruction>" for name in protocol.OMNICONTEXT_STRINGS}
    pf = protocol.omnicontext_messages(strings, "pf", "do X", ["a.png", "b.png"], "out.png", scene=True)
    sc = protocol.omnicontext_messages(strings, "sc", "do X", ["a.png", "b.png"], "out.png", scene=True)
    assert "PF_Single_and_Multiple" in pf[0]["content"][0]["text"] and "SC_Scene" in sc[0]["content"][0]["text"]
    assert "<instruction>" not in pf[0]["content"][0]["text"] and pf[0]["content"][0]["text"].count("do X") == 2
    assert [p.get("preprocess") for p in pf[0]["content"][1:]] == [{"max_area": 1024 ** 2, "multiple": 16}] * 2 + [{}]


def test_gedit_and_viescore_requests():
    strings = {name: name for name in protocol.GEDIT_STRINGS}
    strings["_prompts_0shot_tie_rule_SC"] = "SC <instruction>"
    sc = protocol.gedit_messages(strings, "sc", "add a hat", "s.png", "e.png")
    assert sc[0]["content"][0]["text"] == "_context_no_delimit\n_prompts_0shot_two_image_edit_rule\nSC add a hat"
    assert sc[0]["content"][2]["preprocess"] == {"resize_like": "s.png"} and len(sc[0]["content"]) == 3
    assert len(protocol.gedit_messages(strings, "pq", "add a hat", "s.png", "e.png")[0]["content"]) == 2
    texts = {p.path: f"{p.name} <subject> <prompt>" for p in get_pack("imagenhub").judge.prompts}
    sdie = protocol.viescore_messages(texts, "subject_driven_ie", "sc", "dog", ["src.png", "token.png"], "out.png")
    assert sdie[0]["content"][0]["text"].startswith("context.txt dog <prompt>\n") and len(sdie[0]["content"]) == 4
    pair = protocol.concat_image(["c1.png", "c2.png"])
    msdig = protocol.viescore_messages(texts, "multi_concept_ic", "sc", "a cat on a chair", [pair], "out.png")
    assert msdig[0]["content"][1]["preprocess"]["concat"] == ["c1.png", "c2.png"]


@pytest.mark.parametrize("parser, reply, value", [
    ("score_line", "Analysis: the subject matches.\nScore: 3", 3),
    ("score_line", "Score: 3 ... final score: 2", None),
    ("score_line", "Score: 7", None),
    ("json_score", '{"score": 8, "reasoning": "close"}', 8),
    ("json_score", "7", 7),
    ("json_score", '{"score": 11, "reasoning": ""}', None),
    ("json_score", "I cannot rate this image.", None),
    ("json_score_list", '```json\n{"score": [6, 9], "reasoning": "ok"}\n```', [6, 9]),
    ("json_score_list", '{"score": [6], "reasoning": "ok"}', [6]),  # any length: the anchors take the minimum
    ("json_score_list", '{"score": [7.0, 8]}', [7.0, 8]),
    ("json_score_list", '{"score": [6, "x"]}', None),
    ("json_score_list", '{"score": [11, 2]}', None),
    ("json_score_list", "[6, 0]", [6, 0]),  # a bare pair or a bare integer, as the anchors accept them
    ("json_score_list", " 8\n", [8]),
    ("json_score_list", "[6, 0, 2]", None),
    ("json_score_list", "I would rate it highly.", None),  # where the anchors guess a random score
])
def test_replies_parse_or_fail_with_a_reason(parser, reply, value):
    got, problem = protocol.PARSERS[parser](reply)
    assert got == value and (problem == "") == (value is not None)


def test_image_tokens_match_openais_worked_examples():
    # platform.openai.com/docs/guides/images-vision, "calculating costs": 1024x1024 -> 765, 2048x4096 -> 1105
    assert cost.image_tokens(1024, 1024) == 765 and cost.image_tokens(2048, 4096) == 1105


def test_the_cost_estimate_counts_the_anchors_calls():
    shape = cost.Call(prompt_chars=4000, images=((512, 512), (512, 512)), reply_tokens=200)
    dbp = cost.estimate(get_pack("dreambench_plus"), {"cp": shape, "pf": shape})
    assert dbp.calls == dbp.anchor_calls == 1350 * 2 * 3
    per_call = (1000 + 2 * 765) * 5.00 / 1e6 + 200 * 15.00 / 1e6
    assert dbp.usd == pytest.approx(8100 * per_call)
    gedit = cost.estimate(get_pack("gedit_bench"), {"sc": shape, "pq": shape})
    omni = get_pack("omnicontext")
    assert gedit.calls == 1212 * 2 and omni.judge.calls_per_sample == 3 * len(omni.judge.questions)


def test_the_cost_table_covers_every_pack():
    rows = {e.pack: e for e in cost.table()}
    assert set(rows) == set(PACKS) and all(e.usd > 0 for e in rows.values())
    assert rows["omnicontext"].calls == 100 * 2  # its size is known only after the fetch: per 100 samples
