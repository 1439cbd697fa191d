"""`ibench data fetch` against a local HTTP server on 127.0.0.1 (Range support, dropped connections)."""

from __future__ import annotations

import hashlib
import socket
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from ibench.errors import IbenchError
from ibench.data.fetch import fetch, mirror_url, read_manifest
from loopback import Loopback

FILES = ["dreambench/dog/00.jpg", "content/chicago.jpg", "styles/classic/mondrian.jpg"]
ORIGIN = "https://raw.githubusercontent.com/owner/repo/0123abcd/"


class Server(Loopback):
    """Serves ``files`` (URL path -> bytes); records each request's path and Range header."""

    def __init__(self, files: dict[str, bytes]):
        self.files, self.requests = files, []
        self.drop_after: dict[str, int] = {}  # path -> bytes sent before dropping (first request only)
        self.ignore_range = False
        self.endless: set[str] = set()  # paths answered with bytes that never end (no Content-Length)
        self.sent = 0
        state = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 5

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                state.requests.append((self.path, self.headers.get("Range")))
                body = state.files.get(self.path)
                if self.path in state.endless:
                    self.send_response(200)
                    self.end_headers()
                    try:
                        while state.sent < 256 << 20:  # bounded even if the client never stops reading
                            self.wfile.write(b"\0" * 65536)
                            state.sent += 65536
                    except OSError:
                        pass
                    return
                if body is None:
                    self.send_error(404)
                    return
                start, status = 0, 200
                rng = self.headers.get("Range")
                if rng and not state.ignore_range:
                    start, status = int(rng.removeprefix("bytes=").split("-")[0]), 206
                    if start >= len(body):
                        self.send_error(416)
                        return
                self.send_response(status)
                self.send_header("Content-Length", str(len(body) - start))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                self.end_headers()
                drop = state.drop_after.pop(self.path, None)
                self.wfile.write(body[start:] if drop is None else body[start:start + drop])
                self.wfile.flush()
                if drop is not None:
                    self.connection.shutdown(socket.SHUT_RDWR)

        super().__init__(Handler)
        self.stopper = threading.Timer(60, self.httpd.shutdown)  # bounded: stops by itself

    def __enter__(self) -> "Server":
        self.stopper.start()
        return super().__enter__()

    def __exit__(self, *exc) -> None:
        self.stopper.cancel()
        super().__exit__(*exc)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(autouse=True)
def _only_localhost(monkeypatch):
    """No traffic to anything but 127.0.0.1."""
    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost"):
            raise AssertionError(f"test tried to reach {host}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


@pytest.fixture
def fixture(shared_data, tmp_path):
    """(bytes by local path, manifest writer, server) for three real JPEGs."""
    blobs = {rel: (shared_data / rel).read_bytes() for rel in FILES}

    def manifest(sha_override: dict[str, str] | None = None) -> Path:
        rows = ["local_path\toriginal_url\tsha256_of_original\tbytes_of_original"]
        for rel, data in blobs.items():
            rows.append(f"{rel}\t{ORIGIN}{rel}\t{(sha_override or {}).get(rel, _sha(data))}\t{len(data)}")
        path = tmp_path / "manifest.tsv"
        path.write_text("\n".join(rows) + "\n")
        return path

    with Server({f"/owner/repo/0123abcd/{rel}": data for rel, data in blobs.items()}) as server:
        yield blobs, manifest, server



def test_mirror_url_appends_the_original_path():
    assert mirror_url(ORIGIN + "a/b.jpg", "http://m.example/mirror/") == "http://m.example/mirror/owner/repo/0123abcd/a/b.jpg"
    assert mirror_url(ORIGIN + "a/b.jpg", None) == ORIGIN + "a/b.jpg"


def test_fresh_fetch_verifies_then_a_second_fetch_downloads_nothing(fixture, tmp_path, monkeypatch, capsys, cli_code):
    blobs, manifest, server = fixture
    root = tmp_path / "root"
    monkeypatch.setenv("IBENCH_DATA_DIR", str(root))  # the env var names the default data root
    monkeypatch.setenv("IBENCH_MIRROR", server.url)
    assert cli_code("data", "fetch", "--manifest", manifest()) == 0
    assert "3 downloaded" in capsys.readouterr().out
    for rel, data in blobs.items():
        assert (root / rel).read_bytes() == data
    assert not list(root.rglob("*.part"))
    seen = len(server.requests)
    assert seen == 3 and all(r is None for _, r in server.requests)

    report = fetch(root, manifest(), base_url=server.url)
    assert report.downloaded == [] and sorted(report.present) == sorted(FILES)
    assert len(server.requests) == seen  # nothing requested again


def test_only_selects_by_prefix(fixture, tmp_path):
    _, manifest, server = fixture
    report = fetch(tmp_path / "root", manifest(), only="content/", base_url=server.url)
    assert report.downloaded == ["content/chicago.jpg"]
    with pytest.raises(IbenchError, match="matches no file"):
        fetch(tmp_path / "root", manifest(), only="nope/", base_url=server.url)


def test_checksum_mismatch_is_refused(fixture, tmp_path, capsys, cli_code):
    blobs, manifest, server = fixture
    root = tmp_path / "root"
    bad = "content/chicago.jpg"
    fetch(root, manifest(), only="dreambench/", base_url=server.url)  # verified earlier
    before = (root / FILES[0]).stat().st_mtime_ns
    code = cli_code("data", "fetch", "--data-dir", root, "--manifest", manifest({bad: "0" * 64}), "--base-url", server.url)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith("error: checksum mismatch for content/chicago.jpg")
    assert not (root / bad).exists() and not (root / (bad + ".part")).exists()
    assert (root / FILES[0]).stat().st_mtime_ns == before  # the earlier verified file is kept untouched
    assert (root / FILES[2]).read_bytes() == blobs[FILES[2]]  # the others of this run are kept too


def test_interrupted_download_resumes_with_range_on_rerun(fixture, tmp_path, capsys, cli_code):
    blobs, manifest, server = fixture
    root, rel = tmp_path / "root", "content/chicago.jpg"
    server.drop_after[f"/owner/repo/0123abcd/{rel}"] = 5000
    code = cli_code("data", "fetch", "-d", root, "--manifest", manifest(), "--base-url", server.url,
                "--only", rel, "--retries", "0")
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "rerun" in err and rel in err
    part = root / (rel + ".part")
    assert part.stat().st_size == 5000 and not (root / rel).exists()

    report = fetch(root, manifest(), only=rel, base_url=server.url, retries=0)
    assert report.downloaded == [rel]
    assert server.requests[-1] == (f"/owner/repo/0123abcd/{rel}", "bytes=5000-")
    assert _sha((root / rel).read_bytes()) == _sha(blobs[rel]) and not part.exists()


def test_dropped_connection_is_resumed_within_one_run(fixture, tmp_path):
    blobs, manifest, server = fixture
    rel = "styles/classic/mondrian.jpg"
    server.drop_after[f"/owner/repo/0123abcd/{rel}"] = 1234
    report = fetch(tmp_path / "root", manifest(), base_url=server.url, retries=2)
    assert sorted(report.downloaded) == sorted(FILES)
    assert ("/owner/repo/0123abcd/" + rel, "bytes=1234-") in server.requests
    assert (tmp_path / "root" / rel).read_bytes() == blobs[rel]


def test_server_ignoring_range_restarts_cleanly(fixture, tmp_path):
    blobs, manifest, server = fixture
    root, rel = tmp_path / "root", "dreambench/dog/00.jpg"
    part = root / (rel + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"garbage!" * 100)  # not a prefix of the file: a 200 reply must replace it
    server.ignore_range = True
    fetch(root, manifest(), only=rel, base_url=server.url, retries=0)
    assert server.requests[-1][1] == "bytes=800-"
    assert (root / rel).read_bytes() == blobs[rel] and not part.exists()


def test_unreachable_server_is_one_line(fixture, tmp_path, capsys, cli_code):
    _, manifest, _ = fixture
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = cli_code("data", "fetch", "-d", tmp_path / "root", "--manifest", manifest(),
                "--base-url", f"http://127.0.0.1:{port}", "--retries", "0")
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "cannot reach" in err and "rerun the same command to resume" in err


def test_manifest_rejects_unsafe_paths(tmp_path):
    bad = tmp_path / "m.tsv"
    bad.write_text("local_path\toriginal_url\tsha256_of_original\tbytes_of_original\n"
                   f"../escape.jpg\t{ORIGIN}x.jpg\t{'a' * 64}\t10\n")
    with pytest.raises(IbenchError, match="unsafe local_path"):
        read_manifest(bad)


def test_packaged_manifest_is_the_pinned_list(shared_data):
    sources = read_manifest()
    assert len(sources) == 196 and len({s.path for s in sources}) == 196
    assert all(s.url.startswith("https://raw.githubusercontent.com/") and len(s.sha256) == 64 for s in sources)
    pinned = (shared_data / "ORIGINALS.tsv").read_text().splitlines()
    assert [line.split("\t")[0] for line in pinned[1:]] == [s.path for s in sources]


def test_bad_base_url_is_one_line(fixture, tmp_path, capsys, cli_code):
    _, manifest, _ = fixture
    code = cli_code("data", "fetch", "-d", tmp_path / "root", "--manifest", manifest(), "--base-url", "notaurl")
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "--base-url 'notaurl'" in err and "Traceback" not in err


def test_an_endless_reply_is_cut_at_the_pinned_size(fixture, tmp_path, capsys, cli_code):
    blobs, manifest, server = fixture
    server.endless.add(f"/owner/repo/0123abcd/{FILES[0]}")
    code = cli_code("data", "fetch", "-d", tmp_path / "root", "--manifest", manifest(), "--base-url", server.url)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and f"sent more than the pinned {len(blobs[FILES[0]])} bytes" in err[0]
    assert server.sent < len(blobs[FILES[0]]) + (4 << 20)  # the client stopped reading (socket buffers aside)
    assert not (tmp_path / "root" / FILES[0]).exists() and (tmp_path / "root" / FILES[1]).is_file()


def test_a_symlinked_folder_cannot_take_downloads_out_of_the_root(fixture, tmp_path, capsys, cli_code):
    _, manifest, server = fixture
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "dreambench").mkdir(parents=True)
    outside.mkdir()
    (root / "dreambench" / "dog").symlink_to(outside, target_is_directory=True)
    code = cli_code("data", "fetch", "-d", root, "--manifest", manifest(), "--base-url", server.url)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "outside the data root" in err[0]
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("path, url, message", [
    (".", ORIGIN + "x.jpg", "unsafe local_path '.'"), ("a/./b.jpg", ORIGIN + "x.jpg", "unsafe local_path"),
    ("dir/", ORIGIN + "x.jpg", "unsafe local_path"), ("a.jpg", "file:///etc/passwd", "must be an http(s) URL"),
    ("a.jpg", "https://raw.githubusercontent.com/o/r/../../../etc/passwd", "without '..'"),
    ("a.jpg", "https://raw.githubusercontent.com/o/r/%2e%2e/x", "without '..'")])
def test_manifest_rows_that_would_leave_the_root_or_the_mirror(tmp_path, path, url, message):
    bad = tmp_path / "m.tsv"
    bad.write_text(f"local_path\toriginal_url\tsha256_of_original\tbytes_of_original\n{path}\t{url}\t{'a' * 64}\t10\n")
    with pytest.raises(IbenchError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_manifest(bad)


def test_a_file_mirror_never_serves_outside_its_folder(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    assert mirror_url(ORIGIN + "a.jpg", mirror.as_uri()).startswith(mirror.as_uri())
    with pytest.raises(IbenchError, match="leave the mirror"):
        mirror_url("https://raw.githubusercontent.com/o/../../secret", mirror.as_uri())


def test_two_fetches_into_one_root_both_succeed(fixture, tmp_path):
    import os
    import subprocess
    import sys

    blobs, manifest, server = fixture
    root = tmp_path / "root"
    args = [sys.executable, "-m", "ibench", "data", "fetch", "-d", str(root), "--manifest", str(manifest()),
            "--base-url", server.url]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "HF_HUB_OFFLINE": "1"}) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    assert [code for code, _ in results] == [0, 0], results
    assert all((root / rel).read_bytes() == data for rel, data in blobs.items())
    assert sorted(p.name for p in root.rglob("*") if p.is_file() and p.suffix == ".part") == []


def test_a_corrupted_part_file_restarts_from_zero_in_the_same_run(fixture, tmp_path):
    """Bytes kept from an earlier run that are not a prefix of the file: the resumed download fails its checksum,
    so the same run starts over from byte 0 (was: exit 2 blaming the download, and only a rerun recovered)."""
    blobs, manifest, server = fixture
    root, rel = tmp_path / "root", "content/chicago.jpg"
    part = root / (rel + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"\xff" * 3000)  # a torn write: the right length for a prefix, the wrong bytes
    report = fetch(root, manifest(), only=rel, base_url=server.url, retries=0)
    assert report.downloaded == [rel] and (root / rel).read_bytes() == blobs[rel] and not part.exists()
    path = f"/owner/repo/0123abcd/{rel}"
    assert server.requests[-2:] == [(path, "bytes=3000-"), (path, None)]


def test_manifest_field_errors_name_the_line(tmp_path):
    head = "local_path\toriginal_url\tsha256_of_original\tbytes_of_original\n"
    bad = tmp_path / "m.tsv"
    bad.write_text(head + f"a.jpg\t{ORIGIN}a.jpg\t{'a' * 64}\t10\nb.jpg\t{ORIGIN}b.jpg\t{'z' * 64}\t10\n")
    with pytest.raises(IbenchError, match=r"line 3: sha256_of_original 'z+' is not a SHA-256 digest"):
        read_manifest(bad)
    bad.write_text(head + f"a.jpg\t{ORIGIN}a.jpg\t{'a' * 64}\t10\nb.jpg\t{ORIGIN}b\x00.jpg\t{'a' * 64}\t10\n")
    with pytest.raises(IbenchError, match="line 3: contains a NUL byte"):
        read_manifest(bad)


def test_an_empty_dreambench_prompt_list_says_so(tmp_path):
    from ibench.core.paths import DataRoot
    from ibench.data.catalog import Catalog

    (tmp_path / "dreambench" / "dog").mkdir(parents=True)
    (tmp_path / "dreambench" / "prompts_and_classes.txt").write_text("")
    with pytest.raises(IbenchError, match=r"prompts_and_classes.txt lists no subject .*the file is empty"):
        Catalog(DataRoot(tmp_path)).subjects
