"""The shutdown table: a warning line from 60 days before, a refusal naming the successor after; for API image
models (no request is made) and judge presets."""

from __future__ import annotations

import datetime as dt

import pytest

from fake_api import FakeAPI
from ibench.core import deprecations
from ibench.errors import IbenchError


@pytest.fixture
def on(monkeypatch):
    def set_day(day: str) -> None:
        monkeypatch.setattr(deprecations, "today", lambda: dt.date.fromisoformat(day))
        monkeypatch.setattr(deprecations, "_warned", set())

    return set_day


def test_the_rows_the_issue_names_and_their_sources():
    table = deprecations.TABLE
    expected = {"gemini-2.5-flash-image": ("2026-10-02", "gemini-3.1-flash-image"),
                "gpt-image-1": ("2026-10-23", "gpt-image-2.6-sunburst"),
                "gpt-image-1.5": ("2026-12-01", "gpt-image-2.6-sunburst"),
                "gpt-image-1-mini": ("2026-12-01", "gpt-image-2.6-sunburst"),
                "gpt-4.1-2025-04-14": ("2027-01-14", "gpt-6-luna")}
    for model, (day, successor) in expected.items():
        assert (str(table[model].date), table[model].successor) == (day, successor), model
    for row in table.values():
        assert row.source in (deprecations.OPENAI, deprecations.GEMINI) and row.source.startswith("https://")


def test_the_window_opens_60_days_before_and_the_refusal_starts_on_the_day():
    model = "gemini-2.5-flash-image"
    assert deprecations.status(model, dt.date(2026, 8, 2))[0] == "ok"
    assert deprecations.status(model, dt.date(2026, 8, 3))[0] == "warn"  # 60 days before
    assert deprecations.status(model, dt.date(2026, 10, 1))[0] == "warn"
    assert deprecations.status(model, dt.date(2026, 10, 2))[0] == "retired"
    assert deprecations.status("gpt-image-2")[0] == "ok"


def test_a_warning_is_one_line_once(on, capsys):
    on("2026-12-05")
    deprecations.check("gpt-4.1-2025-04-14", "judge")
    deprecations.check("gpt-4.1-2025-04-14", "judge")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "in 40 days" in lines[0] and "'gpt-6-luna'" in lines[0] and lines[0].startswith("warning:")


def test_the_old_judge_preset_warns_now_and_is_refused_after_the_shutdown(on, capsys):
    from ibench.evaluators.judge.config import load_judge_config

    on("2026-12-05")
    assert load_judge_config("gpt-4.1").model == "gpt-4.1-2025-04-14"
    assert "2027-01-14" in capsys.readouterr().err
    on("2027-01-14")
    with pytest.raises(IbenchError, match="use 'gpt-6-luna' instead"):
        load_judge_config("gpt-4.1")
    current = load_judge_config("gpt-6-luna")
    assert current.model == "gpt-6-luna" and current.settings.extra_body == {"reasoning_effort": "none"}


@pytest.mark.parametrize("provider,model,successor", [("gemini", "gemini-2.5-flash-image", "gemini-3.1-flash-image"),
                                                      ("openai", "gpt-image-1", "gpt-image-2.6-sunburst")])
def test_a_retired_api_model_is_refused_before_any_request(monkeypatch, tmp_path, provider, model, successor):
    from ibench.models import get_model

    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake")
    monkeypatch.setenv("GEMINI_API_KEY", "g-fake")
    with FakeAPI() as api:
        with pytest.raises(IbenchError) as exc:
            get_model("api", provider=provider, model=model, base_url=api.url + ("/v1" if provider == "openai" else ""),
                      cache_dir=str(tmp_path))
        assert not api.requests
    assert successor in str(exc.value) and "\n" not in str(exc.value)


def test_the_gemini_default_is_the_served_successor():
    from ibench.models.api.providers import default_model

    assert default_model("gemini") == "gemini-3.1-flash-image" and deprecations.status("gemini-3.1-flash-image")[0] == "ok"


def test_run_refuses_a_retired_model_in_one_line(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake")
    code, _, err = cli("run", "-t", "txt2img", "-m", "api", "-a", "model=gpt-image-1.5", "-d", "synthetic",
                       "-o", tmp_path / "runs", "--no-score")
    lines = [x for x in err.splitlines() if x.strip()]
    assert code == 2 and len(lines) == 1 and "gpt-image-2.6-sunburst" in lines[0] and "2026-12-01" in lines[0]
    assert not (tmp_path / "runs").exists()


def test_score_device_renames_device_and_the_old_name_still_works(cli, tmp_path):
    import re

    code, out, _ = cli("run", "--help")
    assert code == 0 and "--score-device" in out and not re.search(r"(?<![\w-])--device\b", out)
    code, _, err = cli("run", "-t", "txt2img", "-d", "synthetic", "-n", "1", "-k", "1", "-o", tmp_path, "--no-score",
                       "--device", "cpu")
    assert code == 0 and "--device moves only the scorer and is now called --score-device" in err
    from ibench.cli.options import score_device

    assert score_device("auto", None) == "auto" and score_device("auto", "cpu") == "cpu"
    with pytest.raises(IbenchError, match="give --score-device only"):
        score_device("cuda:1", "cpu")
