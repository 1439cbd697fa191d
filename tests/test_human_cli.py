"""`ibench human create-study / stats / export / serve` and their one-line errors."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import human_fixtures
import pandas as pd
from human_fixtures import rate_all
from ibench.human_eval import ratings
from ibench.human_eval.assignment import StudyTokens
from ibench.human_eval.store import get_engine

human_runs = human_fixtures.human_runs  # pytest fixtures


def test_create_study_prints_tokens_then_stats_and_export(cli, human_runs, tmp_path):
    db = tmp_path / "h.db"
    code, out, err = cli("human", "create-study", *human_runs, "--raters-per-item", "2", "--rater", "ann",
                         "--rater", "bob", "--rater", "cy", "--db", db, "--name", "pilot")
    assert code == 0, err
    assert out.startswith("study pilot: 6 items, 12 assignments\n")
    toks = dict(line.split("\t") for line in out.splitlines()[1:])
    assert set(toks) == {"admin", "ann", "bob", "cy"}
    engine = get_engine(str(db))
    assert ratings.sign_in(engine, toks["admin"]).is_admin and ratings.sign_in(engine, toks["ann"]).name == "ann"
    code, _, err = cli("human", "stats", "--db", db)
    assert code == 2 and err == "error: no ratings yet (skips and flags do not count)\n"
    n = rate_all(db, StudyTokens("pilot", {k: v for k, v in toks.items() if k != "admin"}, toks["admin"], 6, 12))
    assert n == 12
    code, out, err = cli("human", "stats", "--db", db, "--study", "pilot", "--csv", tmp_path / "s.csv")
    assert code == 0, err
    assert "task style_subject" in out and re.search(r"^references\s+3\s+3\s", out, re.M)
    assert re.search(r"^tiny\s+3\s+3\s", out, re.M) and "Krippendorff's alpha (ordinal)" in out
    table = pd.read_csv(tmp_path / "s.csv")
    assert list(table["model"]) == ["references", "tiny"]
    assert (table["n_raters"] == 3).all() and (table["n_ratings"] == 6).all()
    code, out, _ = cli("human", "export", "--db", db, "--out", tmp_path / "exp", "--format", "csv")
    assert code == 0 and len(pd.read_csv(tmp_path / "exp" / "ratings.csv")) == 12
    assert not (tmp_path / "exp" / "imagenhub").exists()


def test_create_study_tokens_file_and_errors(cli, human_runs, tmp_path):
    db, tokens = tmp_path / "h.db", tmp_path / "secret" / "tokens.tsv"
    code, out, err = cli("human", "create-study", *human_runs, "--raters", "3", "--db", db, "--tokens-out", tokens)
    assert code == 0, err
    assert "tokens written to" in out and "\t" not in out
    assert oct(tokens.stat().st_mode & 0o777) == "0o600" and "rater03\t" in tokens.read_text()
    for args, message in [
        (["--raters", "3", "--rater", "x"], "either --raters N or --rater NAME"),
        ([], "either --raters N or --rater NAME"),
        (["--raters", "2"], "--raters-per-item 3 needs at least 3 raters"),
        (["--raters", "3", "--tokens-out", tokens], "exists; tokens are written once"),
        (["--raters", "3", "--db", tmp_path / "no" / "such" / "dir.db"], "database folder"),
        (["--raters", "3", "--db", "nosuchdialect://x"], "cannot open database"),
    ]:
        full = ["human", "create-study", *human_runs, *args]
        if "--db" not in args:
            full += ["--db", db]
        code, _, err = cli(*full)
        assert code == 2 and err.startswith("error: ") and message in err and err.count("\n") == 1, (args, err)


def test_serve_launches_the_installed_app(human_runs, tmp_path):
    db, log = tmp_path / "s.db", tmp_path / "serve.log"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "IBENCH_HUMAN_DB": str(db)}
    missing = subprocess.run([sys.executable, "-m", "ibench", "human", "serve"], cwd=tmp_path, env=env,
                             capture_output=True, text=True)  # a typo'd --db is an error, not a new database
    assert missing.returncode == 2 and "no such rating database" in missing.stderr and not db.exists()
    get_engine(str(db))  # an (empty) ibench database
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "ibench", "human", "serve", "--port", str(port),
                                 "--address", "127.0.0.1"], cwd=tmp_path, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, ok = time.monotonic() + 60, False
        while time.monotonic() < deadline and proc.poll() is None and not ok:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    ok = r.status == 200
            except OSError:
                time.sleep(0.3)
        assert ok, log.read_text()[-2000:]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # serve became streamlit: one process group to end
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert "human_eval/app.py" in log.read_text() and "serving" in log.read_text()
