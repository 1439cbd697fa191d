"""Download the public sources of a data root: pinned URLs, SHA-256 checks, resumable.

Each manifest row (``local_path, original_url, sha256_of_original, bytes_of_original``; the
packaged ``resources/sources.tsv``) becomes ``<root>/<local_path>``. A download goes into
``<local_path>.part`` and is resumed with an HTTP ``Range`` request when interrupted; the file
is renamed into place only once its SHA-256 matches. A mirror (``--base-url``/``IBENCH_MIRROR``)
serves the same files under the path of the original URL: ``https://raw.githubusercontent.com/a/b``
becomes ``<base-url>/a/b``.
"""

from __future__ import annotations

import csv
import http.client
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Callable

from ibench.errors import IbenchError
from ibench.core.locks import hold
from ibench.core.paths import sha256_file

MIRROR_ENV = "IBENCH_MIRROR"
_HEX64 = re.compile(r"[0-9a-f]{64}")
CHUNK = 1 << 16
USER_AGENT = "ibench-fetch/0.1 (+https://github.com/)"


@dataclass(frozen=True)
class Source:
    """One file of the manifest."""

    path: str
    url: str
    sha256: str
    size: int


@dataclass
class FetchReport:
    """What a fetch did: relative paths downloaded, already present, and refused."""

    downloaded: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class ChecksumMismatch(IbenchError):
    """A downloaded file's SHA-256 is not the pinned one."""


def default_manifest() -> Path:
    return Path(str(resources.files("ibench").joinpath("resources", "sources.tsv")))


def read_manifest(path: str | Path | None = None) -> list[Source]:
    """The manifest's rows; raises on a malformed row or an unsafe local path."""
    path = Path(path) if path else default_manifest()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise IbenchError(f"cannot read manifest {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise IbenchError(f"manifest {path}: not UTF-8 text (byte {exc.start})") from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise IbenchError(f"manifest {path} line {line}: contains a NUL byte")
    out = []
    rows = csv.DictReader(text.splitlines(), delimiter="\t")
    need = {"local_path", "original_url", "sha256_of_original", "bytes_of_original"}
    if not need <= set(rows.fieldnames or ()):
        raise IbenchError(f"manifest {path}: expected columns {', '.join(sorted(need))}")
    for n, row in enumerate(rows, start=2):
        if None in row.values() or None in row:
            raise IbenchError(f"manifest {path} line {n}: expected {len(rows.fieldnames or ())} tab-separated fields")
        rel = (row["local_path"] or "").strip()
        pure = PurePosixPath(rel)
        if (not pure.parts or pure.is_absolute() or any(p in (".", "..") for p in rel.split("/")) or "\\" in rel
                or rel.endswith("/")):
            raise IbenchError(f"manifest {path} line {n}: unsafe local_path {rel!r} (a file path inside the root)")
        url = row["original_url"].strip()
        if urllib.parse.urlsplit(url).scheme not in ("http", "https") or _climbs(url):
            raise IbenchError(f"manifest {path} line {n}: original_url {url!r} must be an http(s) URL without '..'")
        try:
            size = int(row["bytes_of_original"])
        except (TypeError, ValueError):
            raise IbenchError(f"manifest {path} line {n}: bytes_of_original is not an integer") from None
        digest = (row["sha256_of_original"] or "").strip().lower()
        if not _HEX64.fullmatch(digest):
            raise IbenchError(f"manifest {path} line {n}: sha256_of_original {digest[:70]!r} is not a SHA-256 digest "
                              f"(64 hex digits)")
        if size < 0:
            raise IbenchError(f"manifest {path} line {n}: bytes_of_original is negative")
        out.append(Source(rel, url, digest, size))
    return out


def _climbs(url: str) -> bool:
    """Whether a URL's path has a '..' segment (also percent-encoded)."""
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    return any(part == ".." for part in path.replace("\\", "/").split("/"))


def mirror_url(url: str, base_url: str | None) -> str:
    """``url`` with its origin (scheme://host/) replaced by ``base_url``; unchanged without one.

    The result never leaves the mirror: a '..' in the path is refused (for a ``file://`` mirror the
    resolved file must lie inside the mirror's folder)."""
    if not base_url:
        return url
    if _climbs(url):
        raise IbenchError(f"{url}: a '..' in the path would leave the mirror {base_url}")
    path = urllib.parse.urlsplit(url).path.lstrip("/")
    out = f"{base_url.rstrip('/')}/{path}"
    if urllib.parse.urlsplit(base_url).scheme == "file":
        base = Path(urllib.request.url2pathname(urllib.parse.urlsplit(base_url).path)).resolve()
        target = Path(urllib.request.url2pathname(urllib.parse.urlsplit(out).path)).resolve()
        if base not in target.parents:
            raise IbenchError(f"{url}: resolves to {target}, outside the mirror {base}")
    return out


def verified(path: Path, source: Source) -> bool:
    """True when ``path`` exists with the pinned size and hash."""
    return path.is_file() and path.stat().st_size == source.size and sha256_file(path) == source.sha256


class _NetworkError(Exception):
    """A transfer failed in a way that a retry (with Range) may fix."""


def _download(url: str, part: Path, source: Source, on_bytes: Callable[[int], None], timeout: float) -> None:
    """Bring ``part`` to the full file, resuming from its current size when the server allows."""
    have = part.stat().st_size if part.exists() else 0
    if have > source.size:  # not a prefix of the file: start over
        part.unlink()
        have = 0
    if have == source.size:
        return
    headers = {"User-Agent": USER_AGENT}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # our range is past the end: the .part is not usable
            part.unlink()
            raise _NetworkError(f"HTTP 416 for a resumed range of {url}") from None
        if exc.code >= 500 or exc.code == 429:
            raise _NetworkError(f"HTTP {exc.code} from {url}") from None
        raise IbenchError(f"could not download {source.path}: HTTP {exc.code} {exc.reason} from {url}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise _NetworkError(f"cannot reach {url} ({reason})") from None
    with response:
        status = response.status or 200
        resumed = status == 206 and have and _range_start(response.headers.get("Content-Range")) == have
        if status == 206 and not resumed:  # a partial reply that is not the part we asked for
            part.unlink(missing_ok=True)
            raise _NetworkError(f"unexpected Content-Range {response.headers.get('Content-Range')!r} from {url}")
        if have and not resumed:
            on_bytes(-have)  # the server ignored Range: restart cleanly from byte 0
            have = 0
        received = 0
        expected = response.headers.get("Content-Length")
        wanted = source.size - have
        try:
            with open(part, "ab" if have else "wb") as f:
                while received <= wanted and (block := response.read(min(CHUNK, wanted + 1 - received))):
                    f.write(block)
                    received += len(block)
                    on_bytes(len(block))
        except (OSError, http.client.HTTPException) as exc:
            raise _NetworkError(f"connection to {url} dropped after {have + received} bytes ({type(exc).__name__})") from None
        if received > wanted:  # more than the pinned size: never read an endless reply to its end
            part.unlink(missing_ok=True)
            raise ChecksumMismatch(f"{source.path}: {url} sent more than the pinned {source.size} bytes; the file "
                                   f"was not kept")
        if expected is not None and received < int(expected):
            raise _NetworkError(f"connection to {url} dropped after {have + received} bytes")


def _range_start(content_range: str | None) -> int | None:
    """The first byte of a ``Content-Range: bytes a-b/n`` header."""
    if not content_range or not content_range.startswith("bytes "):
        return None
    try:
        return int(content_range[6:].split("-", 1)[0])
    except ValueError:
        return None


def fetch_one(root: Path, source: Source, base_url: str | None = None, retries: int = 3,
              on_bytes: Callable[[int], None] = lambda n: None, timeout: float = 60.0) -> bool:
    """Make ``root/source.path`` verified; returns False when it was already there.

    Raises ``ChecksumMismatch`` (the bad download is deleted) or ``IbenchError`` for a network
    failure that outlasted ``retries`` (the ``.part`` file is kept for the next run).
    """
    final = inside(root, source.path)
    if verified(final, source):
        return False
    final.parent.mkdir(parents=True, exist_ok=True)
    final = inside(root, source.path)  # again: a folder made meanwhile may be a symlink
    part = final.with_name(final.name + ".part")
    url = mirror_url(source.url, base_url)
    resumed = part.is_file() and part.stat().st_size > 0
    _transfer(url, part, source, on_bytes, timeout, retries)
    digest = sha256_file(part)
    if resumed and (part.stat().st_size != source.size or digest != source.sha256):
        # the bytes kept from an earlier run were not a prefix of the file (a corrupted .part): start over now
        on_bytes(-part.stat().st_size)
        part.unlink()
        _transfer(url, part, source, on_bytes, timeout, retries)
        digest = sha256_file(part)
    if part.stat().st_size != source.size or digest != source.sha256:
        got = part.stat().st_size
        part.unlink()
        raise ChecksumMismatch(f"checksum mismatch for {source.path}: got sha256 {digest[:12]}... ({got} bytes), "
                               f"expected {source.sha256[:12]}... ({source.size} bytes) from {url}; the file was not kept")
    os.replace(part, final)
    return True


def _transfer(url: str, part: Path, source: Source, on_bytes: Callable[[int], None], timeout: float,
              retries: int) -> None:
    """``_download`` with ``retries`` retries of network failures (backing off); the last one is one line."""
    for attempt in range(retries + 1):
        try:
            _download(url, part, source, on_bytes, timeout)
            return
        except _NetworkError as exc:
            if attempt == retries:
                raise IbenchError(f"download of {source.path} failed: {exc}; rerun the same command to resume "
                                  f"({part.stat().st_size if part.exists() else 0} bytes kept in {part.name})") from None
            time.sleep(min(0.5 * 2 ** attempt, 8.0))


def inside(root: Path, rel: str) -> Path:
    """``root/rel``, refused when a symlinked folder (or file) on the way would take it out of the root."""
    real_root = Path(os.path.realpath(root))
    target = Path(os.path.realpath(root / rel))
    if real_root not in target.parents:
        raise IbenchError(f"{root / rel} resolves to {target}, outside the data root {real_root} (a symlink?); "
                          f"nothing was written there")
    return root / rel


def select(sources: list[Source], only: str | None) -> list[Source]:
    """Rows whose local path starts with ``only`` (a folder or file prefix)."""
    if not only:
        return sources
    picked = [s for s in sources if s.path.startswith(only.strip("/"))]
    if not picked:
        tops = sorted({s.path.split("/", 1)[0] for s in sources})
        raise IbenchError(f"--only {only!r} matches no file of the manifest (top-level folders: {', '.join(tops)})")
    return picked


def fetch(root: str | Path, manifest: str | Path | None = None, only: str | None = None,
          base_url: str | None = None, retries: int = 3, progress: bool | None = None,
          log: Callable[[str], None] = lambda line: None) -> FetchReport:
    """Download every (selected) manifest file missing or wrong under ``root``.

    Keeps going after a checksum mismatch and raises at the end (files verified so far stay);
    stops at a network failure that retries did not fix. ``progress=None`` shows a bar on a TTY. Two
    fetches into one root take turns (a lock in the root).
    """
    root = Path(root).expanduser()
    base_url = base_url or os.environ.get(MIRROR_ENV) or None
    if base_url and urllib.parse.urlsplit(base_url).scheme not in ("http", "https", "file"):
        raise IbenchError(f"--base-url {base_url!r} (or ${MIRROR_ENV}): expected an http://, https:// or file:// URL")
    sources = select(read_manifest(manifest), only)
    try:
        root.mkdir(parents=True, exist_ok=True)
        with hold(root / ".ibench-fetch.lock", f"data root {root}"):  # a second fetch waits, then finds the files
            return _fetch(root, sources, base_url, retries, progress, log)
    except OSError as exc:
        raise IbenchError(f"--data-dir {root}: cannot write ({exc.strerror or exc}); verified files are kept") from None


def _fetch(root: Path, sources: list[Source], base_url: str | None, retries: int, progress: bool | None,
           log: Callable[[str], None]) -> FetchReport:
    from tqdm import tqdm

    report = FetchReport()
    todo = []
    for s in sources:
        if verified(inside(root, s.path), s):
            report.present.append(s.path)
        else:
            todo.append(s)
    if not todo:
        return report
    total = sum(s.size for s in todo)
    with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, disable=None if progress is None else not progress,
              desc=f"fetching {len(todo)} files", dynamic_ncols=True) as bar:
        def on_bytes(n: int) -> None:
            if n < 0:
                bar.total += -n  # a restart: these bytes come again
                bar.refresh()
            else:
                bar.update(n)

        for s in todo:
            part = root / (s.path + ".part")
            already = part.stat().st_size if part.exists() and part.stat().st_size <= s.size else 0
            bar.update(already)  # resumed bytes count as done
            try:
                fetch_one(root, s, base_url, retries, on_bytes)
                report.downloaded.append(s.path)
                log(f"ok      {s.path}")
            except ChecksumMismatch as exc:
                report.refused.append(s.path)
                report.errors.append(str(exc))
                log(f"refused {s.path}")
    if report.refused:
        more = f"; {len(report.refused) - 1} more files refused" if len(report.refused) > 1 else ""
        kept = len(report.downloaded) + len(report.present)
        raise ChecksumMismatch(f"{report.errors[0]}{more}; {kept} verified files kept in {root}")
    return report
