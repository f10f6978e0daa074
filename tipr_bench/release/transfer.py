"""Byte transfer: one file's bytes from file://, a plain path, http(s):// or a Hugging Face dataset repo.

It knows sizes, not checksums: index_download.py proves the bytes against the manifest.

Network files resume: bytes already in `<file>.part` are kept and the rest is asked for with an
HTTP Range request. Transient failures (connection drops, timeouts, 408/429/5xx) are retried with
exponential backoff; an attempt that made progress does not use up the retry budget. Plain
stdlib urllib: redirects (Hugging Face's resolve -> CDN) keep the Range header.
"""

from __future__ import annotations

import http.client
import os
import random
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urljoin, urlparse

import tipr_bench
from tipr_bench.benchmark.manifest import IntegrityError
from tipr_bench.core.errors import UserError

CHUNK = 1 << 16
HF_HOST = "https://huggingface.co"
USER_AGENT = f"tipr-bench/{tipr_bench.__version__}"
_HF_REPO = re.compile(r"^(https?://[^/]+)/datasets/([^/]+)/([^/]+?)/?$")
_HF_PAGE = re.compile(r"^(https?://[^/]+/datasets/[^/]+/[^/]+)/(?:blob|tree)/([^/]+)(/.*)?$")
_HF_SCHEME = re.compile(r"^hf://datasets/([^/@]+)/([^/@]+)(?:@([^/]+))?(/.*)?$")


class _Transient(Exception):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class _RangeRejected(_Transient):
    """HTTP 416: the partial data no longer fits the file on the server (whose size may be known)."""

    def __init__(self, message: str, total: int | None):
        super().__init__(message)
        self.total = total


def _check_total(url: str, total: int | None, size: int) -> None:
    """The server's own size for the file must be the manifest's, or the file is not the released one."""
    if total is not None and total != size:
        raise IntegrityError(f"{url}: the server has {total} bytes, the manifest lists {size}; the file was "
                             "altered, nothing was installed")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5  # consecutive attempts without progress before giving up
    backoff: float = 0.5  # seconds before the first retry; doubles each time
    timeout: float = 30.0  # socket timeout per read

    def delay(self, failures: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, 60.0)
        base = self.backoff * 2 ** (failures - 1)
        return base + random.uniform(0, self.backoff)


def to_url(location: str) -> str:
    """A fetchable URL for a path, file://, http(s)://, hf://datasets/ORG/REPO[@REV][/PATH], or a Hugging
    Face dataset page URL (repo root, /blob/REV/..., /tree/REV/...), which become /resolve/REV/... URLs."""
    location = location.strip()
    parsed = urlparse(location)
    if parsed.scheme in ("http", "https") and (parsed.username or parsed.password):
        raise UserError(f"the URL for {parsed.hostname} carries credentials (user:password@): releases are public "
                        "and tipr-bench never sends or stores secrets; use the plain URL")
    if m := _HF_SCHEME.match(location):
        org, repo, rev, path = m.groups()
        return f"{HF_HOST}/datasets/{org}/{repo}/resolve/{rev or 'main'}{path or '/'}"
    if m := _HF_REPO.match(location):
        host, org, repo = m.groups()
        if repo not in ("resolve", "blob", "tree"):
            return f"{host}/datasets/{org}/{repo}/resolve/main/"
    if m := _HF_PAGE.match(location):
        repo_url, rev, path = m.groups()
        return f"{repo_url}/resolve/{rev}{path or '/'}"
    scheme = parsed.scheme
    if scheme in ("http", "https", "file"):
        return location
    if scheme and len(scheme) > 1:
        raise UserError(f"unsupported URL scheme {scheme!r} in {location}: use a path, file://, http(s):// or hf://")
    path = Path(location).expanduser().resolve()
    url = path.as_uri()
    return url + "/" if path.is_dir() else url


def join(base: str, relative: str) -> str:
    """`relative` (an index entry's url, or a checked manifest path) resolved against `base`."""
    return urljoin(base, relative)


def file_url(base: str, path: str) -> str:
    return urljoin(base if base.endswith("/") else base + "/", quote(path))


def _local_path(url: str) -> Path:
    return Path(urllib.request.url2pathname(unquote(urlparse(url).path)))


def _request(url: str, start: int) -> urllib.request.Request:
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if start:
        headers["Range"] = f"bytes={start}-"
    return urllib.request.Request(url, headers=headers)


def _open(url: str, start: int, timeout: float):
    """An open HTTP response, or _Transient/UserError for failures."""
    try:
        return urllib.request.urlopen(_request(url, start), timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416:
            found = re.match(r"bytes \*/(\d+)$", (exc.headers or {}).get("Content-Range", "") or "")
            raise _RangeRejected("range not satisfiable (the partial file is stale)",
                                 int(found.group(1)) if found else None) from None
        if exc.code in (408, 429) or exc.code >= 500:
            after = exc.headers.get("Retry-After", "") if exc.headers else ""
            raise _Transient(f"HTTP {exc.code}", float(after) if after.isdigit() else None) from None
        raise UserError(f"{url}: HTTP {exc.code} {exc.reason}; check the --index URL and that the release "
                        "is fully uploaded there") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise _Transient(f"{getattr(exc, 'reason', exc)}") from None


def _with_retries(url: str, policy: RetryPolicy, attempt: Callable[[], bool]) -> None:
    """Run `attempt` until it returns True (done); it returns False after progress short of done."""
    failures = 0
    while True:
        try:
            if attempt():
                return
            failures = 0
        except _Transient as exc:
            failures += 1
            if failures >= policy.attempts:
                raise UserError(f"{url}: {exc} ({failures} attempts); check the address or your connection "
                                "and rerun: finished files and partial data are kept") from None
            time.sleep(policy.delay(failures, exc.retry_after))


def fetch_bytes(url: str, policy: RetryPolicy, limit: int = 64 << 20) -> bytes:
    """A small file (index, manifest) read whole into memory."""
    if url.startswith("file:"):
        path = _local_path(url)
        try:
            if path.stat().st_size > limit:
                raise UserError(f"{path}: larger than {limit} bytes; is this an index or manifest?")
            return path.read_bytes()
        except OSError as exc:
            raise UserError(f"{path}: cannot read ({exc.strerror}); check the path") from None
    result: list[bytes] = []

    def attempt() -> bool:
        with _open(url, 0, policy.timeout) as resp:
            try:
                data = resp.read(limit + 1)
            except (OSError, http.client.HTTPException) as exc:
                raise _Transient(f"read failed: {exc}") from None
            length = resp.headers.get("Content-Length")
            if length and length.isdigit() and len(data) < int(length):
                raise _Transient("connection closed early")
        if len(data) > limit:
            raise UserError(f"{url}: larger than {limit} bytes; is this an index or manifest?")
        result.append(data)
        return True

    _with_retries(url, policy, attempt)
    return result[0]


def fetch_file(url: str, part: Path, size: int, policy: RetryPolicy, on_bytes: Callable[[int], None]) -> None:
    """Fill `part` with the `size` bytes at `url`, resuming from what `part` already holds.

    More bytes than `size` is an IntegrityError (the file is not the one the manifest describes).
    `on_bytes(n)` reports progress; a negative n means bytes were thrown away (restart).
    """
    part.parent.mkdir(parents=True, exist_ok=True)

    def have() -> int:
        return part.stat().st_size if part.exists() else 0

    best = have()

    def attempt() -> bool:
        nonlocal best
        start = have()
        if start > size:
            on_bytes(-start)
            part.unlink()
            start = 0
        if start == size:
            return True
        if url.startswith("file:"):
            return _copy_local(url, part, start, size, on_bytes)
        if _fetch_http(url, part, start, size, policy.timeout, on_bytes):
            return True
        if have() <= best:  # a server that keeps restarting us short of the end is not progress
            raise _Transient("connection closed early again without new data")
        best = have()
        return False

    _with_retries(url, policy, attempt)


def _copy_local(url: str, part: Path, start: int, size: int, on_bytes: Callable[[int], None]) -> bool:
    source = _local_path(url)
    try:
        handle = open(source, "rb")
    except OSError as exc:
        raise UserError(f"{source}: cannot read ({exc.strerror}); the release on disk is incomplete") from None
    with handle, open(part, "ab") as out:
        handle.seek(start)
        got = start
        while block := handle.read(CHUNK):
            got += len(block)
            if got > size:
                raise IntegrityError(f"{source}: larger than the {size} bytes its manifest lists; the file was "
                                     "altered, nothing was installed")
            out.write(block)
            on_bytes(len(block))
        out.flush()
        os.fsync(out.fileno())
    if got < size:
        raise IntegrityError(f"{source}: {got} bytes, its manifest lists {size}; the file was altered, "
                             "nothing was installed")
    return True


def _fetch_http(url: str, part: Path, start: int, size: int, timeout: float,
                on_bytes: Callable[[int], None]) -> bool:
    try:
        resp = _open(url, start, timeout)
    except _RangeRejected as exc:
        _check_total(url, exc.total, size)
        on_bytes(-start)
        part.unlink(missing_ok=True)  # start over on the next attempt
        raise
    with resp:
        mode = "ab"
        if resp.status == 206:
            match = re.match(r"bytes (\d+)-\d+/(\d+|\*)$", resp.headers.get("Content-Range", ""))
            if match and match.group(2) != "*":
                _check_total(url, int(match.group(2)), size)
            if not match or int(match.group(1)) != start:
                on_bytes(-start)
                part.unlink(missing_ok=True)
                raise _Transient("server answered a different byte range; restarting the file")
        else:
            length = resp.headers.get("Content-Length", "")
            if length.isdigit():
                _check_total(url, int(length), size)
        if start and resp.status != 206:
            on_bytes(-start)  # the server ignored Range and sends the whole file
            start, mode = 0, "wb"
        got = start
        with open(part, mode, buffering=0) as out:  # unbuffered: a kill -9 keeps every byte received
            try:
                while chunk := resp.read1(CHUNK):  # whatever arrived: smooth progress, little lost on a kill
                    got += len(chunk)
                    if got > size:
                        raise IntegrityError(f"{url}: more than the {size} bytes its manifest lists; the file was "
                                             "altered, nothing was installed")
                    out.write(chunk)
                    on_bytes(len(chunk))
            except (OSError, http.client.HTTPException) as exc:
                out.flush()
                os.fsync(out.fileno())
                if got > start:
                    return False  # progress: resume with a Range request at once
                raise _Transient(f"read failed: {exc}") from None
            out.flush()
            os.fsync(out.fileno())
    if got < size:
        if got > start:
            return False
        raise _Transient("connection closed before any data")
    return True
