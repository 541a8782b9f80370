"""The model registry: every fitted artefact (scoring references, learner groups, risk models,
heads) in one versioned folder.

Layout: ``<root>/<kind>/<version>/`` holds the artefact's files and ``metadata.json`` (metrics,
data window, feature list, code version, created time, status); ``<root>/<kind>/current`` names
the promoted version and is replaced atomically. A version is never rewritten once saved, so
training never touches what a daily run is using.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from features.errors import EngageError


class RegistryError(EngageError):
    """A registry entry that is missing, incomplete or not what the caller expects."""


@dataclass(frozen=True)
class Entry:
    """One saved version of an artefact: its folder and metadata."""

    kind: str
    version: str
    folder: Path
    metadata: dict

    def path(self, name: str) -> Path:
        """Return the path of one of the version's files."""
        return self.folder / name


PROMOTIONS = "promotions.jsonl"


def data_through(metadata: dict) -> datetime | None:
    """Return the time of the latest data a saved artefact saw: its ``data_through``, else the
    end of its ``data_window`` (a date means the whole day, UTC); None when it records neither."""
    text = metadata.get("data_through") or (metadata.get("data_window") or {}).get("last")
    if not text:
        return None
    when = datetime.fromisoformat(str(text))
    if len(str(text)) == 10:
        when = when.replace(hour=23, minute=59, second=59)
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


class Registry:
    """A registry folder (created on first save)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def save(self, kind: str, files: dict[str, bytes], metadata: dict, promote: bool = False) -> Entry:
        """Save a new version of ``kind`` from ``files`` (name -> bytes) and ``metadata``;
        promote it to ``current`` when asked. The version name is the UTC time and a hash of the
        contents; the folder appears whole (written aside, then renamed)."""
        digest = hashlib.sha256()
        for name in sorted(files):
            digest.update(name.encode() + b"\0" + files[name])
        stamp = datetime.now(timezone.utc)
        version = f"{stamp:%Y%m%dT%H%M%S%f}Z-{digest.hexdigest()[:8]}"
        kind_dir = self.root / kind
        kind_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=kind_dir, prefix=".new-"))
        for name, data in files.items():
            (staging / name).write_bytes(data)
        meta = {**metadata, "kind": kind, "version": version, "created_at": stamp.isoformat(),
                "files": sorted(files)}
        (staging / "metadata.json").write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))
        os.rename(staging, kind_dir / version)
        entry = Entry(kind, version, kind_dir / version, meta)
        if promote:
            self.promote(kind, version)
        return entry

    def promote(self, kind: str, version: str) -> None:
        """Make ``version`` the ``current`` one of ``kind`` (an atomic pointer swap).

        Raises ``RegistryError`` when the version does not exist."""
        if not (self.root / kind / version / "metadata.json").is_file():
            raise RegistryError(f"{self.root / kind}: no version {version!r} to promote")
        tmp = self.root / kind / f".current.{os.getpid()}"
        tmp.write_text(version + "\n")
        os.replace(tmp, self.root / kind / "current")
        with open(self.root / kind / PROMOTIONS, "a") as log:  # who was current when: for backfills
            log.write(json.dumps({"version": version, "at": datetime.now(timezone.utc).isoformat()}) + "\n")

    def current(self, kind: str) -> Entry | None:
        """Return the promoted version of ``kind``, or None when none was promoted."""
        pointer = self.root / kind / "current"
        if not pointer.is_file():
            return None
        return self.load(kind, pointer.read_text().strip())

    def current_at(self, kind: str, as_of: datetime) -> Entry | None:
        """Return the version a run as of ``as_of`` uses: the most recently promoted one whose
        data ends by ``as_of`` (``data_through``), so a backfill never uses a model fitted on
        data after its day; None when no promoted version qualifies. Without a promotion log
        (registries written before it existed), ``current`` when it qualifies."""
        log = self.root / kind / PROMOTIONS
        promoted = [json.loads(line)["version"] for line in log.read_text().splitlines()] if log.is_file() else []
        pointer = self.current(kind)
        candidates = list(dict.fromkeys(reversed(promoted))) or ([pointer.version] if pointer else [])
        for version in candidates:
            entry = self.load(kind, version)
            through = data_through(entry.metadata)
            if through is None or through <= as_of:
                return entry
        return None

    def load(self, kind: str, version: str) -> Entry:
        """Return one saved version; raises ``RegistryError`` when it is missing or broken."""
        folder = self.root / kind / version
        try:
            metadata = json.loads((folder / "metadata.json").read_text())
        except (OSError, ValueError) as exc:
            raise RegistryError(f"{folder}: not a readable registry entry ({type(exc).__name__})") from None
        if metadata.get("kind") != kind or metadata.get("version") != version:
            raise RegistryError(f"{folder}: its metadata names another entry")
        return Entry(kind, version, folder, metadata)

    def versions(self, kind: str) -> list[str]:
        """Return every saved version of ``kind``, oldest first."""
        folder = self.root / kind
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")) \
            if folder.is_dir() else []

    def remove(self, kind: str, version: str) -> None:
        """Delete a version that is not current (for tests and housekeeping)."""
        current = self.current(kind)
        if current and current.version == version:
            raise RegistryError(f"{kind} {version} is current; promote another first")
        shutil.rmtree(self.root / kind / version)
