"""The run's accounting: every input record in exactly one place, counted per stage."""

from __future__ import annotations

from collections import Counter

import pyarrow.compute as pc
import pyarrow.parquet as pq

from features.statuses import Mapping, SessionSource
from features.telemetry_schema import KNOWN_EVENT_TYPES


def _value_counts(column) -> dict:
    return dict(sorted((r["values"], r["counts"]) for r in pc.value_counts(column).to_pylist()))


def ingest_counts(ingest: dict) -> dict:
    """Return the ingest accounting from the ingest result (``files`` with their staged
    counts, ``events``, ``duplicates``, and the event and quarantine table paths)."""
    files = [f["staged"] for f in ingest["files"]]
    quarantine = pq.read_table(ingest["quarantine_path"], columns=["reason"])["reason"]
    by_type = _value_counts(pq.read_table(ingest["events_path"], columns=["event_type"])["event_type"])
    return {
        "input_records": sum(f["records"] for f in files),
        "events": ingest["events"],
        "duplicates": ingest["duplicates"],
        "quarantined": len(quarantine),
        "quarantined_by_reason": _value_counts(quarantine),
        "blank_lines": sum(f["blank_lines"] for f in files),
        "naive_timestamps": sum(f["naive_timestamps"] for f in files),
        "unknown_event_types": {t: n for t, n in by_type.items() if t not in KNOWN_EVENT_TYPES},
        "files_by_reader": dict(sorted(Counter(f["reader"] for f in files).items())),
        "unreadable_sources": ingest.get("unreadable_sources", []),
    }


def stage_counts(ingest: dict, select: dict, paths: dict[str, str]) -> dict:
    """Return the manifest's per-stage counts from the stage results and the written tables.

    ``ingest``: see ``ingest_counts``. ``select``: selected, filtered_out, filtered_by_reason.
    ``paths``: table name -> Parquet file.
    """
    has_audio = "audio_status" in pq.read_schema(paths["responses"]).names
    responses = pq.read_table(paths["responses"], columns=["mapping"] + (
        ["audio_status", "emotion_status", "alignment_status"] if has_audio else []))
    mapping = Counter(responses["mapping"].to_pylist())
    audio = {}
    if has_audio:
        audio = {"by_status": dict(sorted(Counter(responses["audio_status"].to_pylist()).items())),
                 "emotion_by_status": dict(sorted(Counter(responses["emotion_status"].to_pylist()).items())),
                 "alignment_by_status": dict(sorted(Counter(responses["alignment_status"].to_pylist()).items()))}
    source = Counter(pq.read_table(paths["sessions"], columns=["session_source"])["session_source"].to_pylist())
    activity = pq.read_table(paths["phase_activity"], columns=["user_id"])["user_id"]
    scored = {name: pq.read_metadata(paths[name]).num_rows for name in ("phase_scores", "learners", "groups")
              if name in paths}
    return {
        "ingest": ingest_counts(ingest),
        "select": {"events": ingest["events"], "selected": select["selected"],
                   "filtered_out": select["filtered_out"],
                   "filtered_by_reason": select["filtered_by_reason"]},
        "responses": {"responses": responses.num_rows,
                      "mapped": mapping[Mapping.MILESTONE_ID] + mapping[Mapping.LESSON_ID],
                      "unmapped": mapping[Mapping.UNMAPPED],
                      "mapped_by_milestone_id": mapping[Mapping.MILESTONE_ID],
                      "mapped_by_lesson_id": mapping[Mapping.LESSON_ID]},
        "sessions": {"sessions": sum(source.values()), "from_telemetry": source[SessionSource.TELEMETRY],
                     "from_inactivity_gap": source[SessionSource.INACTIVITY_GAP]},
        "phase_activity": {"rows": len(activity), "learners": len(pc.unique(activity))},
        "scores": scored,
        "audio": audio,
    }


def reconcile(counts: dict) -> list[str]:
    """Return the accounting identities that do not hold in ``counts`` (empty when all hold).

    Checks ``input = events + duplicates + quarantined``, ``events = selected + filtered_out``
    and ``responses = mapped + unmapped``.
    """
    problems = []
    ing, sel, resp = counts["ingest"], counts["select"], counts["responses"]
    if ing["input_records"] != ing["events"] + ing["duplicates"] + ing["quarantined"]:
        problems.append("ingest: input_records != events + duplicates + quarantined")
    if ing["events"] != sel["selected"] + sel["filtered_out"]:
        problems.append("select: events != selected + filtered_out")
    if resp["responses"] != resp["mapped"] + resp["unmapped"]:
        problems.append("responses: responses != mapped + unmapped")
    return problems
