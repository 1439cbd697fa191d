"""A reader writes nothing: `human stats` and `human export` open the study database read-only (a rollback-journal
database keeps its bytes, no journal or WAL file appears), and an empty or corrupt file is one line, exit 2."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from report_fixtures import cli_main, report_inputs  # noqa: F401 (fixture)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def journal_db(report_inputs, tmp_path) -> Path:
    """The rated pilot study, switched to SQLite's rollback journal (what another tool may have left it in)."""
    db = tmp_path / "study.db"
    with sqlite3.connect(report_inputs.db) as src, sqlite3.connect(db) as dst:
        src.backup(dst)  # the WAL's pages too
        assert dst.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.db"]
    return db


def test_stats_and_export_leave_a_rollback_journal_database_byte_identical(journal_db, tmp_path, capsys):
    before = _digest(journal_db)
    code, out, err = cli_main(["human", "stats", "--db", journal_db], capsys)
    assert code == 0, err
    assert "pilot" in out or "style_subject" in out
    code, _, err = cli_main(["human", "export", "--db", journal_db, "--out", tmp_path / "export"], capsys)
    assert code == 0, err
    assert _digest(journal_db) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("study")) == ["study.db"]  # no -wal/-shm
    with sqlite3.connect(f"file:{journal_db}?mode=ro", uri=True) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_an_empty_file_is_one_line_and_stays_empty(tmp_path, capsys):
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    for args in (["human", "stats", "--db", empty], ["human", "export", "--db", empty, "--out", tmp_path / "x"]):
        code, _, err = cli_main(args, capsys)
        assert code == 2 and err.count("\n") == 1 and "empty file" in err and str(empty) in err, err
    assert empty.read_bytes() == b"" and sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]


def test_a_corrupt_database_is_one_line(journal_db, tmp_path, capsys):
    """Pages past the header overwritten: the schema may still read, the ratings do not."""
    data = bytearray(journal_db.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page * 2:] = b"\x5a" * (len(data) - page * 2)
    journal_db.write_bytes(bytes(data))
    before = _digest(journal_db)
    for args in (["human", "stats", "--db", journal_db], ["human", "export", "--db", journal_db, "--out", tmp_path / "x"]):
        code, out, err = cli_main(args, capsys)
        assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, (args, out, err)
        assert str(journal_db) in err or "study.db" in err
    assert _digest(journal_db) == before
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    code, _, err = cli_main(["human", "stats", "--db", garbage], capsys)
    assert code == 2 and err.count("\n") == 1 and "garbage.db" in err
