"""The catalogue of bad inputs: each case makes one broken file (or option) in its own folder and names
the command that must refuse it, and what the one ``error:`` line must name (file and field).

A case is ``build(w) -> (args, expected substrings)``; ``w`` is a ``Workbench`` (a scored run, a
baseline, a rating database, a task file and an instance file, each copied on demand into the case's
folder so the case may break its copy).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
BAD_UTF8 = b"\xff\xfe\xfa broken"


@dataclass
class Workbench:
    world: Path  # read-only for cases: the scored run, the baseline, the database, the synthetic root
    tmp: Path  # the case's own folder
    synthetic: Path
    shared: Path  # ../shared/data (read-only)

    @property
    def run(self) -> Path:
        return next(p for p in (self.world / "runs").iterdir() if p.is_dir())

    def copy_run(self) -> Path:
        return Path(shutil.copytree(self.run, self.tmp / "runs" / self.run.name))

    def file(self, name: str, data: bytes | str) -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        return path

    def task(self, edit: Callable[[str], str] | None = None, raw: bytes | None = None) -> Path:
        text = (ROOT / "tasks" / "style_subject.yaml").read_text()
        return self.file("style_subject.yaml", raw if raw is not None else (edit or (lambda t: t))(text))

    def instances(self, *lines: str | bytes) -> Path:
        data = b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in lines)
        return self.file("mine.jsonl", data)

    def root_with(self, name: str, data: bytes) -> Path:
        """A data root holding one subject image ``dreambench/dog/00.png`` with the given bytes."""
        root = self.tmp / "root"
        (root / "dreambench" / "dog").mkdir(parents=True, exist_ok=True)
        (root / "dreambench" / "dog" / name).write_bytes(data)
        return root

    def baseline(self, edit: Callable[[dict], None]) -> Path:
        data = json.loads((self.world / "baseline.json").read_text())
        edit(data)
        return self.file("baseline.json", json.dumps(data))

    def tsv(self, text: str | bytes, name: str = "Text-To-Image_rater1.tsv") -> Path:
        folder = self.tmp / "Text-To-Image"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(text if isinstance(text, bytes) else text.encode())
        return folder


def line(text="[ref#1] on a beach", images=("dreambench/dog/00.jpg",), kind="subject", **extra) -> str:
    refs = [{"marker": "ref#1", "kind": kind, "caption": "the dog", "images": list(images), **extra}]
    return json.dumps({"instruction": {"text": text, "references": refs, "target_prompt": "a dog"}})


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (a decompression bomb's first bytes)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def jpeg_bytes() -> bytes:
    import io

    buf = io.BytesIO()
    Image.fromarray(np.full((32, 32, 3), 120, np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


def gen(w: Workbench, *args) -> list:
    """``ibench generate`` of one sample into the case's folder (on the synthetic root unless ``-d`` is given)."""
    data = [] if "-d" in args else ["-d", w.synthetic]
    return ["generate", *args, *data, "-n", "1", "-k", "1", "-o", w.tmp / "runs"]


def inst(w: Workbench, *lines: str | bytes, root: Path | None = None) -> list:
    """``ibench generate --instances`` of a file of ``lines`` against the shared data root (or ``root``)."""
    return gen(w, "-t", "subject_gen", "--instances", w.instances(*lines), "-d", root or w.shared)


def tsv_row(*cells: str) -> str:
    return "uid\tSD\tSDXL\n" + "\t".join(cells) + "\n"


def sqlite_db(w: Workbench, sql: str) -> Path:
    path = w.tmp / "ratings.sqlite"
    con = sqlite3.connect(path)
    con.executescript(sql)
    con.close()
    return path


def run_file(w: Workbench, name: str, data: bytes | str, command: str = "score") -> tuple:
    run = w.copy_run()
    (run / name).write_bytes(data if isinstance(data, bytes) else data.encode())
    args = {"score": ["score", run, "--extractor-config", "tiny", "--workers", "0"],
            "report": ["report", run, "-o", w.tmp / "report"], "baseline": ["baseline", run, "-o", w.tmp / "b.json"]}
    return args[command], [name]


def manifest_edit(w: Workbench, edit: Callable[[dict], None], command: str = "score"):
    run = w.copy_run()
    data = json.loads((run / "manifest.json").read_text())
    edit(data)
    (run / "manifest.json").write_text(json.dumps(data))
    return (["score", run, "--extractor-config", "tiny"] if command == "score" else ["report", run, "-o", w.tmp / "r"],
            ["manifest.json"])


def generation_lines(w: Workbench, edit: Callable[[list[dict]], list], command: str = "score"):
    run = w.copy_run()
    rows = [json.loads(x) for x in (run / "generations.jsonl").read_text().splitlines()]
    text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in edit(rows))
    (run / "generations.jsonl").write_text(text)
    args = ["score", run, "--extractor-config", "tiny"] if command == "score" else \
        ["generate", "-t", "style_subject", "-m", "tiny", "-d", "synthetic", "-n", "2", "-k", "1", "-o", run.parent]
    return args, ["generations.jsonl", "1"]


def drop(key: str) -> Callable[[dict], None]:
    return lambda d: d.pop(key)


def setitem(path: str, value) -> Callable[[dict], None]:
    """An edit that sets ``a.b.c`` of a JSON document to ``value``."""
    def edit(d: dict) -> None:
        *parents, last = path.split(".")
        for p in parents:
            d = d[p]
        d[last] = value
    return edit


def first_metric(d: dict) -> dict:
    return d["metrics"][sorted(d["metrics"])[0]]


def score_rows(w: Workbench, edit: Callable[[dict], None]):
    run = w.copy_run()
    path = sorted((run / "scores").glob("*.jsonl"))[0]
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    edit(rows[0])
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return ["report", run, "-o", w.tmp / "report"], [path.name, "record 1"]
