"""Read-only commands write nothing where they read: the shared data root stays byte-identical, a
mistyped rating database is an error (not a new empty file)."""

from __future__ import annotations

import pytest

from conftest import LISTING, SHARED_DATA, tree_changes, writable_copy


def test_the_tree_check_sees_every_kind_of_change(tmp_path):
    root = tmp_path / "data"
    writable_copy(SHARED_DATA, root)
    assert tree_changes(root) == []
    (root / "content" / "chicago.jpg").write_bytes(b"x")
    (root / "derived" / "edge").mkdir(parents=True)
    (root / "styles" / "new.png").write_bytes(b"")
    next((root / "dreambench" / "dog").iterdir()).unlink()
    changes = tree_changes(root)
    assert "changed content/chicago.jpg" in changes and "extra folder derived" in changes
    assert "extra file styles/new.png" in changes and any(c.startswith("missing dreambench/dog/") for c in changes)


def test_commands_leave_the_shared_data_root_untouched(cli, shared_data, tmp_path, monkeypatch):
    if not (shared_data / LISTING).is_file():
        pytest.fail(f"{shared_data / LISTING} is needed to check the data root")
    cache = tmp_path / "cache"
    monkeypatch.setenv("IBENCH_CACHE_DIR", str(cache))
    runs, ratings = tmp_path / "runs", shared_data / "imagenhub_ratings" / "Text-To-Image"
    commands = [
        ["validate", "tasks/style_subject_control.yaml", "tasks/mask2img.yaml", "-d", shared_data],
        ["instances", "-t", "edge2img", "-d", shared_data, "-n", "2", "-o", tmp_path / "i.jsonl"],
        ["run", "-t", "style_subject_control", "-d", shared_data, "-n", "1", "-k", "1", "-o", runs,
         "--extractor-config", "tiny"],
        ["report", runs, "-o", tmp_path / "report"],
        ["human", "import-imagenhub", ratings, "--db", tmp_path / "h.db"],
        ["human", "stats", "--imagenhub", ratings],
    ]
    for args in commands:
        code, _, err = cli(*args)
        assert code == 0, (args, err)
    assert tree_changes(shared_data) == []
    assert any((cache / "derived").rglob("*.png"))  # control maps made on demand went to the cache


@pytest.mark.parametrize("args", [["human", "stats"], ["human", "export", "-o", "out"], ["human", "serve"],
                                  ["report", "RUN", "-o", "rep", "--study"]])
def test_a_mistyped_rating_database_is_an_error_not_a_new_file(cli, tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(*args, *([] if args[-1] == "--study" else ["--db"]), "typo.sqlite")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "no such rating database" in lines[0], err
    assert not (tmp_path / "typo.sqlite").exists() and not (tmp_path / "out").exists()
