"""Storage access: ``gs://`` through google-cloud-storage, and local paths.

The client uses Application Default Credentials (or a service-account file named by
``GOOGLE_APPLICATION_CREDENTIALS``); with ``STORAGE_EMULATOR_HOST`` set, google-cloud-storage
talks to that emulator with anonymous credentials.
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from features.errors import EngageError

log = logging.getLogger(__name__)


class SourceNotFound(EngageError):
    """A telemetry source pattern that matches no file or object."""


class SourceUnreadable(EngageError):
    """A telemetry source that cannot be fetched or read (after the storage client's retries)."""


@dataclass(frozen=True)
class GsUri:
    """A parsed ``gs://bucket/key`` URI."""

    bucket: str
    key: str

    def __str__(self) -> str:
        return f"gs://{self.bucket}/{self.key}"


def parse_gs_uri(uri: str) -> GsUri:
    """Return the bucket and key of a ``gs://`` URI.

    Raises:
        ValueError: when ``uri`` is not ``gs://<bucket>/<key>``.
    """
    if not uri.startswith("gs://"):
        raise ValueError(f"not a gs:// URI: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise ValueError(f"gs:// URI without a bucket: {uri!r}")
    return GsUri(bucket, key)


_CREDENTIALS = re.compile(r"^gs://[^/@]*@|\?[^/]*=.*$")


def without_credentials(uri: str) -> tuple[str, bool]:
    """Return a ``gs://`` URI without credentials (``user:secret@`` before the bucket, a
    ``?name=value`` query: storage access goes through the client's own credentials, never a
    URI) and whether any were there. A ``?`` with no ``=`` after it is a glob, and is kept."""
    if not uri.startswith("gs://"):
        return uri, False
    clean = _CREDENTIALS.sub(lambda m: "gs://" if m.group(0).startswith("gs://") else "", uri)
    return clean, clean != uri


def storage_client(project: str | None = None):
    """Return a google-cloud-storage client for ``project`` (the credentials' default when None)."""
    from google.cloud import storage

    return storage.Client(project=project)


def expand_sources(patterns: list[str], client=None) -> list[str]:
    """Return the files named by ``patterns``, each once, sorted by URI (the run's input order,
    which decides which of two conflicting duplicates is kept).

    A pattern is a local path, directory or glob, or a ``gs://bucket/prefix`` (every object
    under it, when it ends in ``/``) or ``gs://bucket/glob*``. Raises ``SourceNotFound``
    naming the pattern when it matches nothing.
    """
    found: list[str] = []
    for pattern in patterns:
        if pattern.startswith("gs://"):
            uri = parse_gs_uri(pattern)
            client = client or storage_client()
            literal = uri.key.split("*")[0].split("?")[0].split("[")[0]
            names = sorted(b.name for b in client.list_blobs(uri.bucket, prefix=literal))
            if uri.key.endswith("/") or not uri.key:
                matched = [n for n in names if not n.endswith("/")]
            elif any(c in uri.key for c in "*?["):
                matched = [n for n in names if fnmatch.fnmatchcase(n, uri.key)]
            else:
                matched = [n for n in names if n == uri.key]
            matches = [f"gs://{uri.bucket}/{n}" for n in matched]
        elif os.path.isdir(pattern):
            matches = sorted(str(p) for p in Path(pattern).iterdir() if p.is_file())
        else:
            matches = sorted(glob.glob(pattern)) if any(c in pattern for c in "*?[") else (
                [pattern] if os.path.isfile(pattern) else [])
        if not matches:
            raise SourceNotFound(f"telemetry source {pattern!r} matches no file")
        found.extend(matches)
    return sorted(set(found))


def fetch_to_local(uri: str, dest: str | Path, client=None) -> dict:
    """Stream ``uri`` (gs:// or local) to ``dest`` when remote; return where it is and its
    checksums: ``{"local_path", "size", "md5"/"crc32c"/"generation" or "sha256"}``.

    A local path is not copied. The storage client retries transient errors itself (its
    default policy). Raises ``SourceUnreadable`` naming the URI and the error when the object
    or file is missing or cannot be read.
    """
    from google.api_core.exceptions import GoogleAPIError
    from google.cloud.storage.exceptions import DataCorruption

    try:
        if not uri.startswith("gs://"):
            path = Path(uri)
            with open(path, "rb") as f:
                digest = hashlib.file_digest(f, "sha256").hexdigest()
            return {"uri": uri, "local_path": str(path), "size": path.stat().st_size, "sha256": digest}
        parsed = parse_gs_uri(uri)
        client = client or storage_client()
        blob = client.bucket(parsed.bucket).get_blob(parsed.key)
        if blob is None:
            raise SourceUnreadable(f"{uri}: no such object")
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        # Streams in chunks and verifies the object's checksum; pinned to the generation listed.
        blob.download_to_filename(str(dest))
    except (OSError, GoogleAPIError, DataCorruption, ValueError) as exc:
        raise SourceUnreadable(f"{uri}: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from None
    return {"uri": uri, "local_path": str(dest), "size": blob.size, "md5": blob.md5_hash,
            "crc32c": blob.crc32c, "generation": blob.generation}
