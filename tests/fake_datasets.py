"""A loopback Hugging Face hub serving a few rows of each pack's dataset in its on-hub format.

``FakeDatasetHub`` extends ``fake_hub.FakeHub`` (model repos) with dataset repos, in the wire format
``huggingface_hub`` 2.4 uses for ``snapshot_download(repo_type="dataset")``:

- ``GET /api/datasets/<repo>[/revision/<rev>]``: info (``sha``, ``siblings``);
- ``GET /api/datasets/<repo>/tree/<rev>?recursive=True``: files with ``oid`` (the git blob id) and, for
  LFS files, ``lfs: {oid: sha256, size, pointerSize}``;
- ``HEAD|GET /datasets/<repo>/resolve/<rev>/<file>``: the bytes, ``X-Repo-Commit``, ``ETag`` (and
  ``X-Linked-Etag``/``X-Linked-Size`` for LFS files); an unknown revision answers ``RevisionNotFound``.

``build_datasets(folder)`` writes the repos as the hub stores them (checked where we could; see
docs/packs.md): DreamBench++ ``data.zip`` (``data/images/<category>/NN.jpg`` and
``data/captions/<category>/NN.txt``), OmniContext and ImagenHub parquet shards (``data/<split>-*.parquet``,
Image columns as ``{bytes, path}`` structs), GEdit-Bench Arrow stream files (``train/data-*.arrow``, the
``save_to_disk`` layout the hub lists as "arrow").
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import unquote, urlsplit

from fake_hub import COMMIT, FakeHub

#: Data files are served as LFS files (listed with their SHA-256), as the hub's .gitattributes rules make them.
LFS_SUFFIXES = (".zip", ".parquet", ".arrow", ".jpg", ".png")


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


class FakeDatasetHub(FakeHub):
    """Model repos as ``FakeHub`` serves them, plus dataset repos (repo id -> folder) at one commit."""

    def __init__(self, datasets: dict[str, Path], models: dict[str, Path] | None = None, commit: str = COMMIT):
        super().__init__(models or {})
        self.datasets = {name: Path(folder) for name, folder in datasets.items()}
        self.commit = commit
        self.corrupt: set[str] = set()  # "<repo>/<file>" served with one byte flipped (listing unchanged)

    def dataset_files(self, repo: str) -> dict[str, Path]:
        folder = self.datasets[repo]
        return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()}

    def answer(self, h: BaseHTTPRequestHandler, body: bool) -> None:
        path = unquote(urlsplit(h.path).path)
        if path.startswith("/api/datasets/"):
            self.requests.append((h.command, path))
            return self.dataset_api(h, path[len("/api/datasets/"):], body)
        if path.startswith("/datasets/"):
            self.requests.append((h.command, path))
            return self.dataset_file(h, path[len("/datasets/"):], body)
        return super().answer(h, body)

    def _repo(self, rest: str) -> tuple[str | None, str]:
        for repo in sorted(self.datasets, key=len, reverse=True):
            if rest == repo or rest.startswith(repo + "/"):
                return repo, rest[len(repo):].lstrip("/")
        return None, rest

    def _revision_ok(self, rev: str) -> bool:
        return rev in (self.commit, "main")

    def _missing(self, h, body: bool, code: str) -> None:
        self.send(h, 404, json.dumps({"error": code}).encode(), "application/json", body, {"X-Error-Code": code})

    def dataset_api(self, h, rest: str, body: bool) -> None:
        repo, tail = self._repo(rest)
        if repo is None:
            return self._missing(h, body, "RepoNotFound")
        files = self.dataset_files(repo)
        if tail.startswith("tree/"):
            rev = tail[len("tree/"):].split("/", 1)[0]
            if not self._revision_ok(rev):
                return self._missing(h, body, "RevisionNotFound")
            listing = []
            for name, p in files.items():
                data = p.read_bytes()
                entry = {"type": "file", "path": name, "size": len(data), "oid": git_blob_id(data)}
                if name.endswith(LFS_SUFFIXES):
                    entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
                listing.append(entry)
            return self.send(h, 200, json.dumps(listing).encode(), "application/json", body)
        rev = tail[len("revision/"):] if tail.startswith("revision/") else "main"
        if not self._revision_ok(rev):
            return self._missing(h, body, "RevisionNotFound")
        info = {"id": repo, "sha": self.commit, "private": False, "siblings": [{"rfilename": n} for n in files]}
        return self.send(h, 200, json.dumps(info).encode(), "application/json", body)

    def dataset_file(self, h, rest: str, body: bool) -> None:
        repo, tail = self._repo(rest)
        if repo is None or not tail.startswith("resolve/"):
            return self._missing(h, body, "RepoNotFound")
        rev, _, name = tail[len("resolve/"):].partition("/")
        if not self._revision_ok(rev):
            return self._missing(h, body, "RevisionNotFound")
        file = self.dataset_files(repo).get(name)
        if file is None:
            return self._missing(h, body, "EntryNotFound")
        data = file.read_bytes()
        headers = {"X-Repo-Commit": self.commit, "ETag": f'"{git_blob_id(data)}"'}
        served = bytes([data[0] ^ 0xFF]) + data[1:] if f"{repo}/{name}" in self.corrupt else data
        if name.endswith(LFS_SUFFIXES):
            digest = hashlib.sha256(data).hexdigest()
            headers.update({"ETag": f'"{digest}"', "X-Linked-Etag": f'"{digest}"', "X-Linked-Size": str(len(data))})
        return self.send(h, 200, served, "application/octet-stream", body, headers)


# -- the datasets ----------------------------------------------------------------------------------------------

def image(color: tuple[int, int, int], fmt: str = "PNG", size: int = 48) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buf, format=fmt)
    return buf.getvalue()


def cell(data: bytes, name: str | None = None) -> dict:
    """A ``datasets`` Image cell as parquet/arrow store it."""
    return {"bytes": data, "path": name}


def _table(rows: list[dict], features: dict):
    import pyarrow as pa

    table = pa.Table.from_pylist(rows)
    meta = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
    return table.replace_schema_metadata(meta)


def write_parquet(path: Path, rows: list[dict], features: dict) -> None:
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(_table(rows, features), path)


def write_arrow_stream(path: Path, rows: list[dict], features: dict) -> None:
    import pyarrow as pa

    table = _table(rows, features)
    path.parent.mkdir(parents=True, exist_ok=True)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)


#: GEdit-Bench's categories besides color_alter and subject-remove (calculate_statistics.py:9-11): one English
#: row each, so that every category the anchor averages over has a sample.
GEDIT_OTHER_GROUPS = ("background_change", "material_alter", "motion_change", "ps_human", "style_change", "subject-add",
                      "subject-replace", "text_change", "tone_transfer")
IMAGE = {"_type": "Image"}
TEXT = {"dtype": "string", "_type": "Value"}
INT = {"dtype": "int64", "_type": "Value"}

DREAMBENCH = {  # (folder under images/, index) -> caption file lines
    ("live_subject/animal", "00"): ["kitten", "a kitten sleeping on a sofa", "a kitten in the snow",
                                    "a kitten on a beach", "a kitten in a garden", "a watercolor painting of a kitten",
                                    "a kitten in pixel art", "a sketch of a kitten", "a kitten flying a spaceship",
                                    "a kitten made of clouds"],
    ("object", "03"): ["Rolls-Royce hood ornament"] + [f"prompt {i} with the Rolls-Royce hood ornament" for i in range(8)]
                      + ["an ornament on the moon"],
    ("style", "01"): ["ukiyo-e", *(f"a lighthouse, prompt {i}" for i in range(9))],
}


def build_datasets(folder: Path) -> dict[str, Path]:
    """Write every pack's fake dataset repo under ``folder``; returns repo id -> folder."""
    folder = Path(folder)
    repos: dict[str, Path] = {}

    def repo(name: str) -> Path:
        path = folder / name.replace("/", "__")
        (path / ".gitattributes").parent.mkdir(parents=True, exist_ok=True)
        (path / ".gitattributes").write_text("*.parquet filter=lfs diff=lfs merge=lfs -text\n")
        (path / "README.md").write_text(f"---\nlicense: test\n---\nfake {name}\n")
        repos[name] = path
        return path

    with zipfile.ZipFile(repo("yuangpeng/dreambench_plus") / "data.zip", "w") as zf:
        for n, ((where, index), lines) in enumerate(DREAMBENCH.items()):
            zf.writestr(f"data/images/{where}/{index}.jpg", image((40 * n, 90, 160), "JPEG"))
            zf.writestr(f"data/captions/{where}/{index}.txt", "\n".join(lines) + "\n")
        zf.writestr("data/preview.py", "# the anchor's preview app\n")

    features = {"key": TEXT, "task_type": TEXT, "instruction": TEXT, "instruction_language": TEXT,
                "input_images": [IMAGE]}
    write_parquet(repo("OmniGen2/OmniContext") / "data" / "train-00000-of-00001.parquet", [
        {"key": "0001", "task_type": "single_character", "instruction": "The woman from image 1 reads in a cafe.",
         "instruction_language": "en", "input_images": [cell(image((200, 10, 10)))]},
        {"key": "0002", "task_type": "multiple_object",
         "instruction": "Put the cup in image 2 next to the lamp in image 1.",
         "instruction_language": "en", "input_images": [cell(image((10, 200, 10))), cell(image((10, 10, 200)))]},
        {"key": "0003", "task_type": "scene_character", "instruction": "The man stands in the street.",
         "instruction_language": "en", "input_images": [cell(image((90, 90, 0))), cell(image((0, 90, 90)))]},
        {"key": "0004", "task_type": "single_character", "instruction": "The girl from image 1 rides a bike.",
         "instruction_language": "en", "input_images": [cell(image((30, 60, 200)))]},
    ], features)

    features = {"task_type": TEXT, "key": TEXT, "instruction": TEXT, "instruction_language": TEXT,
                "input_image": IMAGE, "input_image_raw": IMAGE, "Intersection_exist": {"dtype": "bool", "_type": "Value"}}
    gedit = repo("stepfun-ai/GEdit-Bench")
    rows = [{"task_type": group, "key": key, "instruction": text, "instruction_language": lang,
             "input_image": cell(image(color)), "input_image_raw": cell(image(color, size=64)), "Intersection_exist": inter}
            for group, key, text, lang, color, inter in (
                ("color_alter", "a1b2c3", "make the car red", "en", (0, 0, 255), True),
                ("color_alter", "a1b2c3", "把车变成红色", "cn", (0, 0, 255), True),
                ("subject-remove", "d4e5f6", "remove the dog", "en", (50, 50, 50), False),
                ("color_alter", "c0ffee", "make the wall blue", "en", (200, 200, 0), False),
                *((group, f"k{n:02d}", f"edit number {n}", "en", (20 * n, 100, 30), n % 2 == 0)
                  for n, group in enumerate(GEDIT_OTHER_GROUPS)))]
    write_arrow_stream(gedit / "train" / "data-00000-of-00001.arrow", rows, features)
    (gedit / "train" / "dataset_info.json").write_text(json.dumps({"features": features}))
    (gedit / "train" / "state.json").write_text(json.dumps({"_data_files": [{"filename": "data-00000-of-00001.arrow"}]}))
    (gedit / "dataset_dict.json").write_text(json.dumps({"splits": ["train"]}))

    _imagenhub(repo)
    return repos


def _imagenhub(repo) -> None:
    h = "-0123456789abcdef"
    write_parquet(repo("ImagenHub/Text_Guided_Image_Editing") / "data" / f"filtered-00000-of-00001{h}.parquet", [
        {"img_id": 100081, "turn_index": 1, "source_img": cell(image((1, 2, 3))), "target_img": cell(image((3, 2, 1))),
         "instruction": "Make the sky pink", "source_global_caption": "a house",
         "target_global_caption": "a house, pink sky"}],
        {"img_id": INT, "turn_index": INT, "source_img": IMAGE, "target_img": IMAGE, "instruction": TEXT,
         "source_global_caption": TEXT, "target_global_caption": TEXT})
    concept = {"subject": TEXT, "identifier": TEXT, "image": IMAGE}
    write_parquet(repo("ImagenHub/DreamBooth_Concepts") / "data" / f"train-00000-of-00001{h}.parquet", [
        {"subject": "dog2", "identifier": "sks", "image": cell(image((120, 60, 0), "JPEG"))},
        {"subject": "dog2", "identifier": "sks", "image": cell(image((121, 60, 0), "JPEG"))},
        {"subject": "backpack", "identifier": "sks", "image": cell(image((0, 60, 120), "JPEG"))}], concept)
    write_parquet(repo("ImagenHub/Subject_Driven_Image_Generation") / "data" / f"eval-00000-of-00001{h}.parquet", [
        {"uid": 1, "subject": "dog2", "prompt": "a <token> dog in the jungle"},
        {"uid": 2, "subject": "teapot", "prompt": "a <token> teapot on a table"}],
        {"uid": INT, "subject": TEXT, "prompt": TEXT})
    write_parquet(repo("ImagenHub/Subject_Driven_Image_Editing") / "data" / f"eval-00000-of-00001{h}.parquet", [
        {"uid": 7, "subject": "backpack", "image": cell(image((9, 9, 9)))}], {"uid": INT, "subject": TEXT, "image": IMAGE})
    write_parquet(repo("ImagenHub/Multi_Subject_Concepts") / "data" / f"train-00000-of-00001{h}.parquet", [
        {"concept": "cat", "image": cell(image((1, 1, 1)))}, {"concept": "chair", "image": cell(image((2, 2, 2)))}],
        {"concept": TEXT, "image": IMAGE})
    write_parquet(repo("ImagenHub/Multi_Subject_Driven_Image_Generation") / "data" / f"train-00000-of-00001{h}.parquet", [
        {"uid": 3, "prompt": "a cat sitting on a chair", "concept1": "cat", "concept2": "chair"}],
        {"uid": INT, "prompt": TEXT, "concept1": TEXT, "concept2": TEXT})
    write_parquet(repo("ImagenHub/Control_Guided_Image_Generation") / "data" / f"eval-00000-of-00001{h}.parquet", [
        {"img_id": 5, "control_type": "canny", "guide": cell(image((255, 255, 255))), "text": "a bird",
         "image": cell(image((0, 0, 0)))},
        {"img_id": 5, "control_type": "openpose", "guide": cell(image((0, 0, 0))), "text": "a dancer",
         "image": cell(image((0, 0, 0)))}],
        {"img_id": INT, "control_type": TEXT, "guide": IMAGE, "text": TEXT, "image": IMAGE})
