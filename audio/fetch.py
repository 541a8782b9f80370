"""Fetch response audio: refuse what is not allowed, download from GCS into a content cache.

Every response gets exactly one status: ``ok``, ``no_audio``, ``refused``, ``missing`` or
``fetch_failed`` (decoding adds the others). Retries belong to the storage client: its retry
policy, configured here, retries transient errors only (429, 5xx, timeouts, connection
resets) with exponential backoff and jitter. A checksum mismatch is not retried: the response
is ``fetch_failed`` with the reason.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import unquote

from annotated_types import Ge, Gt, Le

from audio.storage import parse_gs_uri
from features.statuses import AudioStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FetchPolicy:
    """Where audio may come from and how hard to try (the ``audio.fetch`` config section).

    ``allowed_prefixes``: ``gs://bucket/prefix/`` or absolute local folders (empty refuses
    all); ``workers`` concurrent downloads; per-request ``timeout_s``; the storage client's
    retries of transient errors back off from ``initial_backoff_s`` to ``max_backoff_s``
    until ``retry_deadline_s``.
    """

    allowed_prefixes: tuple[str, ...] = ()
    workers: Annotated[int, Ge(1), Le(64)] = 8
    timeout_s: Annotated[float, Gt(0)] = 20.0
    retry_deadline_s: Annotated[float, Gt(0)] = 60.0
    initial_backoff_s: Annotated[float, Gt(0)] = 0.1
    max_backoff_s: Annotated[float, Gt(0)] = 4.0


@dataclass
class FetchResult:
    """The outcome for one response; ``path`` is set when ``status`` is ``ok``."""

    response_id: str
    status: AudioStatus
    path: str | None = None
    detail: str | None = None
    downloaded: bool = False


_BAD_SEGMENT = re.compile(r"(^|/)\.{1,2}(/|$)")


def refusal(uri: str, allowed_prefixes: tuple[str, ...]) -> str | None:
    """Return why ``uri`` may not be fetched, or None when it may.

    Refused: anything but ``gs://bucket/key`` or an absolute local path; ``.`` or ``..``
    segments, empty segments, backslashes or control characters (also percent-encoded); and
    anything outside ``allowed_prefixes``.
    """
    decoded = unquote(uri)
    if any(ord(c) < 32 for c in decoded) or "\\" in decoded:
        return "control character or backslash in URI"
    if uri.startswith("gs://"):
        try:
            parsed = parse_gs_uri(decoded)
        except ValueError as exc:
            return str(exc)
        path = parsed.key
    elif os.path.isabs(decoded):
        path = decoded
    else:
        return "not a gs:// URI or an absolute path"
    if _BAD_SEGMENT.search(path) or "//" in path:
        return "path traversal or empty segment"
    if not any(decoded.startswith(p) for p in allowed_prefixes):
        return "outside the allowed buckets and prefixes"
    return None


class AudioCache:
    """Downloaded audio on local disk, keyed by content (crc32c and md5), bounded in size.

    An index (SQLite) maps each URI to its content key, object generation, learner and last
    use. When the cache grows past ``max_bytes`` the least recently used files go. Thread-safe.
    """

    def __init__(self, root: str | Path, max_bytes: int = 2 << 30):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.root / "index.sqlite", check_same_thread=False)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS entries (uri TEXT PRIMARY KEY, key TEXT, generation TEXT, "
            "user_id TEXT, size INTEGER, last_used REAL)")
        self._db.commit()

    def _path(self, key: str) -> Path:
        return self.root / "objects" / key[:2] / key

    @staticmethod
    def content_key(crc32c: str | None, md5: str | None) -> str:
        """Return the file name for content with these (base64) checksums."""
        raw = f"{crc32c or ''}-{md5 or ''}"
        return re.sub(r"[^A-Za-z0-9]", "_", raw)

    def get(self, uri: str, generation, crc32c: str | None, md5: str | None) -> str | None:
        """Return the cached file for this version of ``uri``, or None."""
        key = self.content_key(crc32c, md5)
        with self._lock:
            row = self._db.execute("SELECT key, generation FROM entries WHERE uri = ?", (uri,)).fetchone()
            path = self._path(key)
            if row and row[0] == key and row[1] == str(generation) and path.exists():
                self._db.execute("UPDATE entries SET last_used = ? WHERE uri = ?", (time.time(), uri))
                self._db.commit()
                return str(path)
        return None

    def put(self, uri: str, user_id: str | None, generation, crc32c: str | None, md5: str | None,
            data: bytes) -> str:
        """Store ``data`` for ``uri`` and return its path; may evict older files."""
        key = self.content_key(crc32c, md5)
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
            tmp.write(data)
        os.replace(tmp.name, path)
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?)",
                             (uri, key, str(generation), user_id, len(data), time.time()))
            self._db.commit()
            self._evict()
        return str(path)

    def _evict(self) -> None:
        total = self._db.execute("SELECT coalesce(sum(size), 0) FROM (SELECT DISTINCT key, size FROM entries)").fetchone()[0]
        if total <= self.max_bytes:
            return
        for key, size in self._db.execute(
                "SELECT key, max(size) FROM entries GROUP BY key ORDER BY max(last_used)").fetchall():
            self._remove_key(key)
            total -= size
            if total <= self.max_bytes:
                break
        self._db.commit()

    def _remove_key(self, key: str) -> None:
        self._db.execute("DELETE FROM entries WHERE key = ?", (key,))
        self._path(key).unlink(missing_ok=True)

    def purge_user(self, user_id: str) -> int:
        """Delete every cached file of one learner (and index entries pointing at them); return
        how many files went."""
        with self._lock:
            keys = [k for (k,) in self._db.execute(
                "SELECT DISTINCT key FROM entries WHERE user_id = ?", (user_id,)).fetchall()]
            for key in keys:
                self._remove_key(key)
            self._db.commit()
            self._db.execute("VACUUM")  # deleted rows would otherwise linger in free pages
        return len(keys)

    def size_bytes(self) -> int:
        """Return the bytes the cached files take."""
        with self._lock:
            return self._db.execute(
                "SELECT coalesce(sum(size), 0) FROM (SELECT DISTINCT key, size FROM entries)").fetchone()[0]


def storage_retry(policy: FetchPolicy):
    """Return the storage client's retry policy: transient errors only, backoff with jitter."""
    from google.cloud.storage.retry import DEFAULT_RETRY

    return DEFAULT_RETRY.with_delay(initial=policy.initial_backoff_s, maximum=policy.max_backoff_s,
                                    multiplier=2.0).with_timeout(policy.retry_deadline_s)


def fetch_audio(items: list[tuple[str, str | None, str | None]], policy: FetchPolicy,
                cache: AudioCache, client=None) -> list[FetchResult]:
    """Fetch the audio of ``items`` (response_id, user_id, audio_uri) with a bounded pool.

    Returns one ``FetchResult`` per item, in order. Never raises for a bad item.
    """
    retry = storage_retry(policy)
    needs_gcs = any(uri and uri.startswith("gs://") for _, _, uri in items)
    if needs_gcs and client is None:
        from audio.storage import storage_client

        client = storage_client()

    def one(item, listed: dict) -> FetchResult:
        response_id, user_id, uri = item
        if not uri:
            return FetchResult(response_id, AudioStatus.NO_AUDIO)
        why = refusal(uri, policy.allowed_prefixes)
        if why:
            return FetchResult(response_id, AudioStatus.REFUSED, detail=why)
        if not uri.startswith("gs://"):
            return (FetchResult(response_id, AudioStatus.OK, path=uri) if os.path.isfile(uri)
                    else FetchResult(response_id, AudioStatus.MISSING, detail="no such file"))
        folder = listed.get(_directory(uri))
        if folder is None:
            return _fetch_gs(response_id, user_id, uri, client, cache, retry, policy.timeout_s)
        blob = folder.get(parse_gs_uri(uri).key)
        if blob is None:
            return FetchResult(response_id, AudioStatus.MISSING, detail="no such object")
        return _fetch_gs(response_id, user_id, uri, client, cache, retry, policy.timeout_s, blob=blob)

    with ThreadPoolExecutor(max_workers=policy.workers) as pool:
        listed = _list_directories(items, policy, client, retry, pool)
        return list(pool.map(lambda item: one(item, listed), items))


def _directory(uri: str | None) -> tuple[str, str] | None:
    if not uri or not uri.startswith("gs://"):
        return None
    parsed = parse_gs_uri(uri)
    return parsed.bucket, parsed.key.rsplit("/", 1)[0] + "/" if "/" in parsed.key else ""


def _list_directories(items, policy, client, retry, pool) -> dict:
    """Read object metadata one listing per folder (for folders with several wanted objects),
    instead of one metadata request per object. Returns (bucket, folder) -> {name: blob}."""
    counts: dict = {}
    for _, _, uri in items:
        if uri and uri.startswith("gs://") and refusal(uri, policy.allowed_prefixes) is None:
            folder = _directory(uri)
            counts[folder] = counts.get(folder, 0) + 1
    folders = [f for f, n in counts.items() if n >= 3]

    def listing(folder):
        bucket, prefix = folder
        try:
            blobs = client.list_blobs(bucket, prefix=prefix, delimiter="/", retry=retry,
                                      timeout=policy.timeout_s)
            return folder, {b.name: b for b in blobs}
        except Exception as exc:  # noqa: BLE001 - fall back to per-object requests
            log.info("listing gs://%s/%s failed (%s); fetching objects one by one", bucket, prefix, exc)
            return folder, None

    return dict(pool.map(listing, folders))


def _fetch_gs(response_id, user_id, uri, client, cache, retry, timeout, blob=None) -> FetchResult:
    from google.api_core import exceptions as gexc
    from google.cloud.storage.exceptions import DataCorruption

    parsed = parse_gs_uri(uri)
    try:
        if blob is None:
            blob = client.bucket(parsed.bucket).get_blob(parsed.key, retry=retry, timeout=timeout)
        if blob is None:
            return FetchResult(response_id, AudioStatus.MISSING, detail="no such object")
        # Read the version before downloading: the download refreshes these from its headers.
        version = (blob.generation, blob.crc32c, blob.md5_hash)
        hit = cache.get(uri, *version)
        if hit:
            return FetchResult(response_id, AudioStatus.OK, path=hit)
        data = blob.download_as_bytes(retry=retry, timeout=timeout, checksum="crc32c")
    except gexc.NotFound:
        return FetchResult(response_id, AudioStatus.MISSING, detail="no such object")
    except DataCorruption as exc:
        return FetchResult(response_id, AudioStatus.FETCH_FAILED, detail=f"checksum mismatch: {str(exc)[:200]}")
    except (gexc.GoogleAPIError, OSError, ValueError) as exc:
        # Retries are exhausted or the error is permanent (403, 400, ...).
        return FetchResult(response_id, AudioStatus.FETCH_FAILED, detail=f"{type(exc).__name__}: {str(exc)[:200]}")
    path = cache.put(uri, user_id, *version, data)
    return FetchResult(response_id, AudioStatus.OK, path=path, downloaded=True)
