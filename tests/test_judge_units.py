"""The judge's parts on their own: reply parsing, the logprob answer reader on two tokenizer layouts, the config,
its identity and presets, prompt files, the call budget, the backend table."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from ibench.errors import IbenchError
from ibench.evaluators.judge import Backend, BackendSettings, Reply


@pytest.mark.parametrize("text, answer, value, problem", [
    ('{"score": 7, "reasoning": "ok"}', "score", 7, ""),
    ('Here you go:\n```json\n{"score": "8", "reasoning": "good"}\n```', "score", 8, ""),
    ('{"score": 10.0}', "score", 10, ""),
    ('{"score": 7.5}', "score", None, "score 7.5 is not an integer from 0 to 10"),
    ('{"score": 11}', "score", None, "score 11 is not an integer from 0 to 10"),
    ('{"score": true}', "score", None, "score True is not an integer"),
    ('{"score": "high"}', "score", None, "score 'high' is not an integer"),
    ('{"score": 3} and also {"score": 4}', "score", None, "2 different 'score' values"),
    ('{"score": 3} {"score": 3}', "score", 3, ""),
    ("7/10, looks fine", "score", None, "no JSON object with a 'score' field"),
    ("", "score", None, "empty reply"),
    ('{"winner": "2", "reasoning": "sharper"}', "winner", "2", ""),
    ('{"winner": "Image 1"}', "winner", "1", ""),
    ('{"winner": "TIE"}', "winner", "tie", ""),
    ('{"winner": "both"}', "winner", None, "winner 'both' is not 1, 2 or tie"),
])
def test_replies_parse_or_name_their_problem(text, answer, value, problem):
    from ibench.evaluators.judge.parse import parse_reply

    got = parse_reply(text, answer)
    assert (got.value, got.problem) == (value, problem)


def byte_vocab() -> dict[str, int]:
    from tokenizers.pre_tokenizers import ByteLevel

    return {"<|endoftext|>": 0, **{c: i + 1 for i, c in enumerate(sorted(ByteLevel.alphabet()))}}


def qwen_like_tokenizer():
    """Byte-level BPE, digits split one by one (Qwen's pre-tokenizer)."""
    from transformers.models.qwen2.tokenization_qwen2 import Qwen2Tokenizer

    return Qwen2Tokenizer(vocab=byte_vocab(), merges=[])


def gpt2_like_tokenizer():
    """Byte-level BPE where a space and a number merge into one token (" 7", " 10"), as GPT-2's."""
    from transformers import GPT2Tokenizer

    vocab, merges = byte_vocab(), [("1", "0"), ("Ġ", "10"), *[("Ġ", str(d)) for d in range(10)]]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    return GPT2Tokenizer(vocab=vocab, merges=merges)


def test_logprob_reader_with_single_digit_tokens_reads_10_from_the_next_position():
    from ibench.evaluators.judge.hf import ChoiceReader

    tok = qwen_like_tokenizer()
    reader = ChoiceReader(tok, "score")
    one, zero = tok.convert_tokens_to_ids("1"), tok.convert_tokens_to_ids("0")
    assert reader.probe == one and reader.suffix == '{"score": 1'
    assert tok(reader.suffix, add_special_tokens=False)["input_ids"] == reader.tail
    p0, p1 = torch.zeros(len(tok)), torch.zeros(len(tok))
    p0[tok.convert_tokens_to_ids("3")], p0[one], p0[0] = 0.2, 0.5, 0.3  # 0.3 elsewhere: not an answer
    p1[zero], p1[tok.convert_tokens_to_ids("5")] = 0.6, 0.1  # after "1": "10" 0.6, "15" (no answer) 0.1
    probs, mass = reader.read(torch.stack([p0, p1]))
    raw = {"3": 0.2, "10": 0.5 * 0.6, "1": 0.5 * (1 - 0.6 - 0.1)}
    assert mass == pytest.approx(sum(raw.values()))
    assert probs == pytest.approx({c: raw.get(c, 0.0) / mass for c in probs})


def test_logprob_reader_with_space_number_tokens_reads_one_position():
    from ibench.evaluators.judge.hf import ChoiceReader

    tok = gpt2_like_tokenizer()
    assert tok.tokenize('{"score": 10')[-1] == "Ġ10"
    reader = ChoiceReader(tok, "score")
    assert reader.probe is None and reader.suffix == '{"score":'  # the space belongs to the answer token
    p = torch.zeros(len(tok))
    p[tok.convert_tokens_to_ids("Ġ10")], p[tok.convert_tokens_to_ids("Ġ2")], p[0] = 0.25, 0.25, 0.5
    probs, mass = reader.read(torch.stack([torch.zeros(len(tok)), p]))
    assert mass == pytest.approx(0.5) and probs["10"] == pytest.approx(0.5) and probs["2"] == pytest.approx(0.5)


def test_identity_holds_what_changes_verdicts_only():
    from ibench.evaluators.judge.config import load_judge_config

    base = {"backend": "openai", "model": "m-2026-01-01", "base_url": "http://127.0.0.1:9/v1"}
    a = load_judge_config(base).identity()
    assert a == load_judge_config({**base, "base_url": "http://127.0.0.1:8/v1", "concurrency": 64, "timeout_s": 9,
                                   "max_retries": 0, "api_key_env": "X"}).identity()
    for change in ({"temperature": 0.5}, {"seed": 1}, {"model": "m2"}, {"revision": "r"}, {"image_max_side": 512},
                   {"prompts": "other.yaml"}, {"max_reference_images": 1}):
        assert load_judge_config({**base, **change}).identity() != a, change


def test_config_errors_name_the_file_and_key(tmp_path, monkeypatch):
    from ibench.evaluators.judge.config import load_judge_config, presets

    assert {"qwen2.5-vl-7b", "vllm", "gpt-4.1"} <= set(presets())
    for name in presets():
        assert load_judge_config(name).model
    assert load_judge_config("gpt-4.1").settings.api_key_env == "OPENAI_API_KEY"
    with pytest.raises(IbenchError, match="judge config .*missing.yaml not found"):
        load_judge_config(str(tmp_path / "missing.yaml"))
    bad = tmp_path / "j.yaml"
    bad.write_text(yaml.safe_dump({"backend": "openai", "model": "m"}))
    with pytest.raises(IbenchError, match=f"{bad}: .*backend openai needs base_url"):
        load_judge_config(str(bad))
    bad.write_text(yaml.safe_dump({"backend": "openai", "model": "m", "base_url": "u", "api_key_env": "sk-abc"}))
    with pytest.raises(IbenchError, match="key 'api_key_env'"):  # a key pasted where its variable's name belongs
        load_judge_config(str(bad))
    monkeypatch.setenv("IBENCH_JUDGE_CONFIG", "vllm")
    assert load_judge_config(None).settings.base_url == "http://localhost:8000/v1"


def test_prompt_files_are_checked_and_hashed(tmp_path):
    from ibench.evaluators.judge.prompts import load_prompts, prompt_path

    shipped = load_prompts("v1")
    data = yaml.safe_load(prompt_path("v1").read_text())
    data["questions"]["sc"] += "\nBe extra strict."
    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml.safe_dump(data))
    assert load_prompts(str(mine)).sha256 != shipped.sha256
    del data["labels"]["output"]
    mine.write_text(yaml.safe_dump(data))
    with pytest.raises(IbenchError, match=f"{mine}: key 'labels.output' is missing"):
        load_prompts(str(mine))
    with pytest.raises(IbenchError, match="judge prompts 'v9'"):
        load_prompts("v9")


def test_the_budget_grants_at_most_its_limit():
    from ibench.evaluators.judge.engine import Budget

    b = Budget(5)
    assert (b.take(3), b.take(3), b.take(1), b.exhausted) == (3, 2, 0, True)
    assert Budget(None).take(10 ** 6) == 10 ** 6


@pytest.mark.parametrize("config, judge_id", [
    ("tiny", "0fa1cdc0f721fc6f"),
    ("vllm", "18405a68dce3dd3a"),
    ({"backend": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1", "json_mode": True, "extra_body": {"a": 1},
      "temperature": 0.3}, "afc55b60b099c7f3"),
])
def test_backend_settings_leave_the_identity_of_cached_verdicts_as_it_was(config, judge_id):
    """The ids the flat config gave before each backend had its own settings (recorded then): a verdict cache
    filled by an earlier version still answers."""
    from ibench.evaluators.judge.cache import NullCache
    from ibench.evaluators.judge.engine import Judge

    judge = Judge(config, cache=NullCache())
    assert judge.id == judge_id
    judge.close()


class Echo:
    """Not a judge backend (no ``Backend`` base class)."""


class Fixed(Backend):
    """A judge backend that gives every question the same score (registered by the test below)."""

    class Settings(BackendSettings):
        RUNTIME = frozenset({"chunk_size"})
        score: int = 4
        chunk_size: int = 2

    @property
    def chunk(self) -> int:
        return self.settings.chunk_size

    def run(self, queries):
        self.sizes = [*getattr(self, "sizes", []), len(queries)]
        return [Reply(text=json.dumps({"score": self.settings.score})) for _ in queries]


def test_the_backend_table_dispatches_and_refuses_in_one_line(monkeypatch, tmp_path):
    from ibench.evaluators.judge import register_backend
    from ibench.evaluators.judge.backend import BACKENDS
    from ibench.evaluators.judge.cache import NullCache
    from ibench.evaluators.judge.config import load_judge_config
    from ibench.evaluators.judge.engine import Judge
    from ibench.evaluators.judge.prompts import Image

    monkeypatch.setitem(BACKENDS, "fixed", "")  # so that the table is restored after the test
    register_backend("fixed", f"{__name__}:Fixed")
    judge = Judge({"backend": "fixed", "model": "m", "score": 7, "chunk_size": 3}, cache=NullCache())
    out = tmp_path / "o.png"
    out.write_bytes(b"")
    queries = [judge.builder.pq("naturalness", Image(out, f"{k:064d}")) for k in range(7)]
    verdicts = judge.ask(queries)
    assert {v["score"] for v in verdicts.values()} == {7.0} and judge.backend.sizes == [3, 3, 1]
    assert judge.identity["score"] == 7 and "chunk_size" not in judge.identity
    assert Judge({"backend": "fixed", "model": "m", "chunk_size": 5}, cache=NullCache()).id == Judge(
        {"backend": "fixed", "model": "m"}, cache=NullCache()).id  # runtime settings are no part of the identity
    with pytest.raises(IbenchError, match=r"^judge config: key 'scor': unknown key \(backend fixed takes the common "
                                          r"keys and: score, chunk_size\)$"):
        load_judge_config({"backend": "fixed", "model": "m", "scor": 1})
    with pytest.raises(IbenchError, match="key 'mode': mode logprob: backend fixed offers generate only"):
        load_judge_config({"backend": "fixed", "model": "m", "mode": "logprob"})
    register_backend("fixed", f"{__name__}:Echo")
    with pytest.raises(IbenchError, match=r"key 'backend': judge backend 'fixed' \(.*:Echo\) is not a subclass of "
                                          r"ibench.evaluators.judge.backend.Backend"):
        load_judge_config({"backend": "fixed", "model": "m"})
    with pytest.raises(IbenchError, match=r"key 'backend': unknown judge backend 'fixd'; did you mean 'fixed'\?"):
        load_judge_config({"backend": "fixd", "model": "m"})
    with pytest.raises(IbenchError, match=r"key 'concurrency': unknown key \(backend transformers takes the common "
                                          r"keys and: device, dtype, batch_size\)"):
        load_judge_config({"backend": "transformers", "model": "m", "concurrency": 4})
