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
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Callable

from ibench.errors import IbenchError
from ibench.core.paths import sha256_file

MIRROR_ENV = "IBENCH_MIRROR"
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
        text = path.read_text()
    except OSError as exc:
        raise IbenchError(f"cannot read manifest {path}: {exc.strerror or exc}") from None
    out = []
    rows = csv.DictReader(text.splitlines(), delimiter="\t")
    need = {"local_path", "original_url", "sha256_of_original", "bytes_of_original"}
    if not need <= set(rows.fieldnames or ()):
        raise IbenchError(f"manifest {path}: expected columns {', '.join(sorted(need))}")
    for n, row in enumerate(rows, start=2):
        rel = (row["local_path"] or "").strip()
        pure = PurePosixPath(rel)
        if not rel or pure.is_absolute() or ".." in pure.parts or "\\" in rel:
            raise IbenchError(f"manifest {path} line {n}: unsafe local_path {rel!r}")
        try:
            size = int(row["bytes_of_original"])
        except (TypeError, ValueError):
            raise IbenchError(f"manifest {path} line {n}: bytes_of_original is not an integer") from None
        digest = (row["sha256_of_original"] or "").strip().lower()
        if len(digest) != 64:
            raise IbenchError(f"manifest {path} line {n}: sha256_of_original is not a SHA-256 hex digest")
        out.append(Source(rel, row["original_url"].strip(), digest, size))
    return out


def mirror_url(url: str, base_url: str | None) -> str:
    """``url`` with its origin (scheme://host/) replaced by ``base_url``; unchanged without one."""
    if not base_url:
        return url
    path = urllib.parse.urlsplit(url).path.lstrip("/")
    return f"{base_url.rstrip('/')}/{path}"


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
        try:
            with open(part, "ab" if have else "wb") as f:
                while block := response.read(CHUNK):
                    f.write(block)
                    received += len(block)
                    on_bytes(len(block))
        except (OSError, http.client.HTTPException) as exc:
            raise _NetworkError(f"connection to {url} dropped after {have + received} bytes ({type(exc).__name__})") from None
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
    final = root / source.path
    if verified(final, source):
        return False
    final.parent.mkdir(parents=True, exist_ok=True)
    part = final.with_name(final.name + ".part")
    url = mirror_url(source.url, base_url)
    for attempt in range(retries + 1):
        try:
            _download(url, part, source, on_bytes, timeout)
            break
        except _NetworkError as exc:
            if attempt == retries:
                raise IbenchError(f"download of {source.path} failed: {exc}; rerun the same command to resume "
                                  f"({part.stat().st_size if part.exists() else 0} bytes kept in {part.name})") from None
            time.sleep(min(0.5 * 2 ** attempt, 8.0))
    digest = sha256_file(part)
    if part.stat().st_size != source.size or digest != source.sha256:
        got = part.stat().st_size
        part.unlink()
        raise ChecksumMismatch(f"checksum mismatch for {source.path}: got sha256 {digest[:12]}... ({got} bytes), "
                               f"expected {source.sha256[:12]}... ({source.size} bytes) from {url}; the file was not kept")
    os.replace(part, final)
    return True


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
    stops at a network failure that retries did not fix. ``progress=None`` shows a bar on a TTY.
    """
    from tqdm import tqdm

    root = Path(root).expanduser()
    base_url = base_url or os.environ.get(MIRROR_ENV) or None
    if base_url and urllib.parse.urlsplit(base_url).scheme not in ("http", "https", "file"):
        raise IbenchError(f"--base-url {base_url!r} (or ${MIRROR_ENV}): expected an http://, https:// or file:// URL")
    sources = select(read_manifest(manifest), only)
    report = FetchReport()
    todo = []
    for s in sources:
        if verified(root / s.path, s):
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
