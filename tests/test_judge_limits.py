"""Images per judge message, known before the call: ``max_images_per_message`` against the messages really sent,
the vLLM recipe's limit against the shipped tasks, and a message over a server's limit as a counted, named
``image_limit`` failure (vLLM's HTTP 400 read, or not sent at all when the config states the limit)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fake_openai import Canned, FakeOpenAI
from judge_fixtures import api_config, make_synthetic_runs, session_cache, verdict_cache  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[1]
#: vLLM's answer to too many images (vllm/multimodal/processing/context.py, ``validate_num_items``), status 400
VLLM_TOO_MANY = "At most {n} image(s) may be provided in one prompt. Set `--limit-mm-per-prompt` to increase this limit."


def images_in(body: dict) -> int:
    return sum(p["type"] == "image_url" for m in body["messages"] if isinstance(m["content"], list)
               for p in m["content"])


def vllm(limit: int):
    """A fake vLLM server started with ``--limit-mm-per-prompt '{"image": limit}'``; every answer scores 5."""
    def reply(body: dict, n: int):
        if images_in(body) > limit:
            return Canned(status=400, error={"message": VLLM_TOO_MANY.format(n=limit), "type": "BadRequestError",
                                             "param": None, "code": 400})
        return json.dumps({"score": 5, "reasoning": "fine"})
    return reply


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A style_subject run: an SC message shows 3 subject views, 1 style image and the output."""
    return make_synthetic_runs(tmp_path_factory.mktemp("judge-limits"), session_cache(tmp_path_factory),
                               models=("tiny",), limit=2, samples=1)[0]


def score(run: Path, config: dict) -> dict:
    from ibench.evaluators.options import ScoreOptions
    from ibench.evaluators.score import score_run

    return score_run(run, ScoreOptions(metrics=["judge_sc", "judge_pq"], kinds={"judge": {"config": config}}))["metrics"]


def test_the_count_is_the_messages_the_judge_sends(run, verdict_cache):
    from ibench.core.registry import get_task
    from ibench.core.rundir import RunStore
    from ibench.evaluators.judge import max_images_per_message

    with FakeOpenAI(vllm(100)) as server:
        score(run, api_config(server.url))
        sent = max(images_in(r["body"]) for r in server.requests)
    instances = RunStore(run).instances()
    assert sent == 5 and max_images_per_message(instances, api_config("u"), pairwise=False) == sent
    assert max_images_per_message(instances, api_config("u")) == sent + 1  # a pairwise question shows two outputs
    assert max_images_per_message([get_task("style_subject")], api_config("u"), pairwise=False) == sent
    assert max_images_per_message(["subject_scaling_4"], "vllm", pairwise=False) == 4 * 2 + 1
    assert max_images_per_message(["subject_scaling_4"], "vllm") == 4 * 2 + 2
    assert max_images_per_message(["subject_scaling_4"], api_config("u", max_reference_images=1)) == 4 + 2
    assert max_images_per_message(["txt2img"], "vllm") == 2 and max_images_per_message([], "vllm") == 0


def test_the_vllm_recipe_takes_every_shipped_task():
    from ibench.core.registry import all_tasks
    from ibench.evaluators.judge import max_images_per_message
    from ibench.evaluators.judge.config import load_judge_config

    need = max_images_per_message(all_tasks(), "vllm")
    assert need == 10  # subject_scaling_4's pairwise question: the issue's 9-10 images
    preset = (ROOT / "evaluators" / "judge" / "configs" / "vllm.yaml").read_text()
    recipes = [preset, (ROOT / "docs" / "judge.md").read_text()]
    limits = [int(n) for text in recipes for n in re.findall(r"""--limit-mm-per-prompt '\{"image": (\d+)\}'""", text)]
    assert len(limits) == 2 and min(limits) >= need
    assert load_judge_config("vllm").settings.max_images_per_message == min(limits)


@pytest.mark.parametrize("said, limit", [
    (VLLM_TOO_MANY.format(n=8), 8),
    ("At most 1 image(s) may be provided in one request.", 1),
    ("You set image=2 (or defaulted to 1) in `--limit-mm-per-prompt`, but passed 3 image items in the same prompt.", 2),
    ("""You set or defaulted to '{"image": 1}' in `--limit-mm-per-prompt`, but passed 96 image items in the same """
     "prompt.", 1),
    ("Invalid image URL", None),
])
def test_vllm_wordings_of_the_limit(said, limit):
    from ibench.evaluators.judge.api import IMAGE_LIMIT

    found = IMAGE_LIMIT.search(f"Error code: 400 - {{'error': {{'message': '{said}'}}}}")
    assert (int(found.group(1) or found.group(2)) if found else None) == limit


def test_a_server_limit_is_a_named_failure_asked_again_under_a_larger_limit(run, verdict_cache):
    with FakeOpenAI(vllm(4)) as server:
        metrics = score(run, api_config(server.url))
        refused = [r for r in server.requests if images_in(r["body"]) > 4]
    sc, pq = metrics["judge_sc"], metrics["judge_pq"]
    n = sc["samples"]["total"]
    assert sc["verdicts"]["failures"] == {"image_limit": 3 * n} and sc["verdicts"]["pending"] == 0
    assert sc["n_rows"] == 0 and sc["samples"]["failed"] == n and pq["verdicts"]["ok"] == 2 * n
    assert len(refused) == 3 * n  # asked once each: not retried as a transient error
    log = [json.loads(line) for line in (run / "judge" / "sc.jsonl").read_text().splitlines()]
    assert {r["detail"].split(" [")[0] for r in log} == {
        "the judge server takes at most 4 images per message and this message has 5: serve it with a higher limit "
        "(vLLM: --limit-mm-per-prompt '{\"image\": N}', N >= ibench.evaluators.judge.max_images_per_message of your "
        "tasks) and set max_images_per_message in the judge config"}
    with FakeOpenAI(vllm(5)) as server:  # not cached: the same questions reach a server that takes them
        again = score(run, api_config(server.url))
        assert server.calls == 3 * n
    assert again["judge_sc"]["verdicts"]["failed"] == 0 and again["judge_sc"]["mean"] == pytest.approx(0.5)


def test_a_stated_limit_sends_nothing_over_it(run, verdict_cache):
    with FakeOpenAI(vllm(100)) as server:
        metrics = score(run, api_config(server.url, max_images_per_message=4))
        assert server.calls and max(images_in(r["body"]) for r in server.requests) == 1  # PQ questions only
    sc = metrics["judge_sc"]
    assert sc["verdicts"]["failures"] == {"image_limit": 3 * sc["samples"]["total"]}
    assert sc["verdicts"]["calls"] == 0 and "skipped" in sc and "image_limit" in sc["skipped"]
