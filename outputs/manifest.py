"""The run manifest: what a run read, what it wrote, and counts that reconcile."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections import Counter
from datetime import date
from importlib import metadata
from pathlib import Path


def config_hash(config: dict) -> str:
    """Return the sha256 of a config's canonical JSON form."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def code_version() -> dict:
    """Return the installed package version and, when run from a git checkout, the commit."""
    try:
        version = metadata.version("engage")
    except metadata.PackageNotFoundError:
        version = "unknown"
    commit = None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
            text=True, timeout=5, check=True).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    return {"package": version, "git_commit": commit}


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


def write_manifest(root: str | Path, run_date: date, manifest: dict) -> Path:
    """Write ``manifest`` as ``<root>/manifest/run_date=<date>/manifest.json`` atomically."""
    folder = Path(root) / "manifest" / f"run_date={run_date.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "manifest.json"
    tmp = folder / f".manifest.json.{os.getpid()}"
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)
    return path


def ingest_counts(ingest: dict) -> dict:
    """Return the ingest accounting from the ingest result (files with their staged counts,
    events, duplicates, and the event and quarantine table paths)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from features.telemetry_schema import KNOWN_EVENT_TYPES

    files = [f["staged"] for f in ingest["files"]]
    quarantine = pq.read_table(ingest["quarantine_path"], columns=["reason"])["reason"]
    by_reason = {r["values"]: r["counts"] for r in pc.value_counts(quarantine).to_pylist()}
    types = pq.read_table(ingest["events_path"], columns=["event_type"])["event_type"]
    by_type = {r["values"]: r["counts"] for r in pc.value_counts(types).to_pylist()}
    return {
        "input_records": sum(f["records"] for f in files),
        "events": ingest["events"],
        "duplicates": ingest["duplicates"],
        "quarantined": len(quarantine),
        "quarantined_by_reason": dict(sorted(by_reason.items())),
        "blank_lines": sum(f["blank_lines"] for f in files),
        "naive_timestamps": sum(f["naive_timestamps"] for f in files),
        "unknown_event_types": {t: n for t, n in sorted(by_type.items()) if t not in KNOWN_EVENT_TYPES},
    }


def stage_counts(ingest: dict, select: dict, paths: dict[str, str]) -> dict:
    """Return the manifest's per-stage counts from the stage results and the written tables.

    ``ingest``: see ``ingest_counts``. ``select``: selected, filtered_out, filtered_by_reason.
    ``paths``: table name -> Parquet file.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    has_audio = "audio_status" in pq.read_schema(paths["responses"]).names
    responses = pq.read_table(paths["responses"], columns=["mapping"] + (
        ["audio_status", "emotion_status"] if has_audio else []))
    mapping = responses["mapping"].to_pylist()
    audio = {}
    if has_audio:
        audio = {"by_status": dict(sorted(Counter(responses["audio_status"].to_pylist()).items())),
                 "emotion_by_status": dict(sorted(Counter(
                     s.split(":")[0] for s in responses["emotion_status"].to_pylist()).items()))}
    source = pq.read_table(paths["sessions"], columns=["session_source"])["session_source"].to_pylist()
    activity = pq.read_table(paths["phase_activity"], columns=["user_id"])["user_id"]
    return {
        "ingest": ingest_counts(ingest),
        "select": {"events": ingest["events"], "selected": select["selected"],
                   "filtered_out": select["filtered_out"],
                   "filtered_by_reason": select["filtered_by_reason"]},
        "responses": {"responses": len(mapping),
                      "mapped": sum(m in ("milestone_id", "lesson_id") for m in mapping),
                      "unmapped": sum(m == "unmapped" for m in mapping),
                      "mapped_by_milestone_id": mapping.count("milestone_id"),
                      "mapped_by_lesson_id": mapping.count("lesson_id")},
        "sessions": {"sessions": len(source), "from_telemetry": source.count("telemetry"),
                     "from_inactivity_gap": source.count("inactivity_gap")},
        "phase_activity": {"rows": len(activity), "learners": len(pc.unique(activity))},
        "audio": audio,
    }


def threshold_breaches(counts: dict, max_quarantine_share: float, max_unmapped_share: float) -> list[str]:
    """Return a message per configured share that ``counts`` exceed (empty when none)."""
    out = []
    ing, resp = counts["ingest"], counts.get("responses", {"responses": 0})
    if ing["input_records"]:
        share = ing["quarantined"] / ing["input_records"]
        if share > max_quarantine_share:
            top = ", ".join(f"{r}={n}" for r, n in sorted(
                ing["quarantined_by_reason"].items(), key=lambda kv: -kv[1])[:3])
            out.append(f"{share:.1%} of input records were quarantined (limit "
                       f"{max_quarantine_share:.1%}; top reasons: {top}); is the field map right?")
    if resp["responses"]:
        share = resp["unmapped"] / resp["responses"]
        if share > max_unmapped_share:
            out.append(f"{share:.1%} of responses map to no milestone (limit "
                       f"{max_unmapped_share:.1%}); is the curriculum the platform's?")
    return out


def summary_markdown(manifest: dict) -> str:
    """Return a short Markdown summary of a run for people (the Prefect artifact's body)."""
    c = manifest["counts"]
    ing, sel, resp, ses = c["ingest"], c["select"], c["responses"], c["sessions"]
    reasons = "\n".join(f"| {r} | {n} |" for r, n in ing["quarantined_by_reason"].items()) or "| - | 0 |"
    return f"""# engage run {manifest['run_date']}

as_of **{manifest['as_of']}** · {len(manifest['inputs'])} input file(s) · accounting {'holds' if not manifest['accounting_problems'] else 'BROKEN'}

| stage | count |
| --- | --- |
| input records | {ing['input_records']} |
| events kept | {ing['events']} |
| duplicates dropped | {ing['duplicates']} |
| quarantined | {ing['quarantined']} |
| selected events | {sel['selected']} (filtered out {sel['filtered_out']}) |
| sessions | {ses['sessions']} ({ses['from_inactivity_gap']} cut by inactivity gap) |
| responses | {resp['responses']} ({resp['unmapped']} unmapped) |
| learner x phase rows | {c['phase_activity']['rows']} |

| quarantine reason | records |
| --- | --- |
{reasons}
"""
