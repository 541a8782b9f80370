"""The run manifest: what a run read, what it wrote, and counts that reconcile."""

from __future__ import annotations

import json
import os
from datetime import date, datetime
from pathlib import Path

from features.errors import EngageError
from outputs.accounting import reconcile
from outputs.provenance import code_version
from outputs.tables import partition_dir


class ManifestMissing(EngageError):
    """A run whose manifest was never published or cannot be read."""


def build_manifest(*, run_date: date, as_of: datetime, config: dict, config_hash: str, ingest_files: list[dict],
                   counts: dict, tables: dict[str, str], timings_s: dict[str, float], audio: dict | None,
                   tone_version: str, scoring: dict | None = None) -> dict:
    """Return the manifest of a run: its date and ``as_of``, the config and its hash, the code
    version, the input files with their checksums, the counts per stage and the accounting
    identities they break (none, normally), the table partitions written, timings per stage,
    the work done beyond what caches held and the cache hits, and the models used.

    ``ingest_files``: the staged files (checksums and staged counts); ``audio``: the audio
    stage's results (fetched and analysed batches, emotion), None when audio is off;
    ``scoring``: the scoring reference and learner-group state the run used.
    """
    work, emotion = {}, {}
    if audio:
        emotion = audio["emotion"]["info"]
        work = {"audio_downloaded": sum(f["downloaded"] for f in audio["fetched"]),
                "audio_cache_hits": sum(f["cache_hits"] for f in audio["fetched"]),
                "tone_analysed": sum(a["analysed"] for a in audio["analysed"]),
                "tone_cache_hits": sum(a["cache_hits"] for a in audio["analysed"]),
                "emotion_classified": audio["emotion"]["classified"],
                "emotion_cache_hits": audio["emotion"]["cache_hits"],
                "prompts_aligned": audio["alignment"]["aligned"],
                "alignment_cache_hits": audio["alignment"]["cache_hits"]}
    return {
        "run_date": run_date.isoformat(), "as_of": as_of.isoformat(),
        "config_hash": config_hash, "config": config, "code_version": code_version(),
        "inputs": [{**f["checksums"], "format": f["staged"]["format"]} for f in ingest_files],
        "counts": counts, "accounting_problems": reconcile(counts),
        "tables": tables, "timings_s": timings_s, "work": work,
        "models": {"tone": tone_version, "emotion": emotion, **(scoring or {})},
    }


def manifest_path(root: str | Path, run_date: date) -> Path:
    """Return where ``run_date``'s manifest lives: ``manifest.json`` in the ``manifest`` table's
    partition folder."""
    return partition_dir(root, "manifest", run_date) / "manifest.json"


def write_manifest(root: str | Path, run_date: date, manifest: dict) -> Path:
    """Write ``manifest`` to ``manifest_path`` atomically; return its path."""
    path = manifest_path(root, run_date)
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".manifest.json.{os.getpid()}"
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)
    return path


def retract_manifest(root: str | Path, run_date: date) -> None:
    """Delete the manifest of ``run_date`` (if any) before its partitions are replaced, so that
    a run killed while publishing leaves a date with no manifest (unfinished) rather than an
    old manifest over new tables."""
    manifest_path(root, run_date).unlink(missing_ok=True)


def read_manifest(root: str | Path, run_date: date) -> dict:
    """Return the manifest published for ``run_date``.

    Raises ``ManifestMissing`` when that run published none."""
    path = manifest_path(root, run_date)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ManifestMissing(f"{path}: no readable manifest ({type(exc).__name__})") from None
