"""Write simulated events as telemetry files, with planted problems and their ground truth.

Events are written in the canonical form, with a few percent of planted problems (broken JSON,
missing user, unreadable time, wrong types, duplicates, conflicting duplicates, unknown event
types, times without offset, epoch-millisecond times). Each planted record's file, line and the
reason the pipeline should give go to the ground truth.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np


def _iso(ts: datetime, offset_min: int) -> str:
    local = ts.astimezone(timezone(timedelta(minutes=offset_min)))
    return local.isoformat(timespec="milliseconds")


# Planted problem -> (reason the pipeline should give, field), None: kept / counted elsewhere.
PLANTED = {
    "broken_json": ("invalid_json", None),
    "missing_user": ("missing_field", "user_id"),
    "bad_timestamp": ("bad_timestamp", "timestamp"),
    "user_as_object": ("wrong_type", "user_id"),
    "duration_as_text": ("wrong_type", "duration_ms"),
    "score_out_of_range": ("out_of_range", "score"),
    "conflicting_duplicate": ("conflicting_duplicate", "event_id"),
    "duplicate": None,
    "unknown_event_type": None,
}


def _render(event: dict, style: str) -> dict:
    out = {k: v for k, v in event.items() if not k.startswith("_")}
    ts, offset = event["timestamp"], event["_offset"]
    if style == "epoch_ms":
        out["timestamp"] = int(ts.timestamp() * 1000)
    elif style == "naive":
        out["timestamp"] = ts.astimezone(timezone(timedelta(minutes=offset))).replace(tzinfo=None).isoformat(
            timespec="milliseconds")
    else:
        out["timestamp"] = _iso(ts, offset)
    return out


def write_telemetry(events: list[dict], cfg) -> tuple[dict[str, list[str]], list[dict]]:
    """Split events into files by time, render them, and plant problems; return (files, truth).

    ``cfg`` is the ``SimulationConfig`` (file count, array file, shares of planted problems).
    """
    rng = np.random.default_rng([cfg.seed, 4242])
    start = datetime.combine(cfg.start_date, datetime.min.time(), timezone.utc)
    span = timedelta(weeks=cfg.weeks) / cfg.telemetry_files
    files: list[list[dict]] = [[] for _ in range(cfg.telemetry_files)]
    for e in sorted(events, key=lambda e: (e["timestamp"], e["event_id"])):
        k = min(int((e["timestamp"] - start) / span), cfg.telemetry_files - 1)
        files[k].append(e)
    names = []
    for k in range(cfg.telemetry_files):
        ext = "json.gz" if k == cfg.array_file_index else "ndjson.gz"
        names.append(f"events-part{k + 1:02d}.{ext}")
    telemetry: dict[str, list[str]] = {}
    truth: list[dict] = []
    kinds = [k for k in PLANTED]
    for k, (name, evs) in enumerate(zip(names, files)):
        records: list[tuple[dict | str, dict | None]] = []
        for e in evs:
            style = "epoch_ms" if e["_epoch_ms"] else (
                "naive" if rng.random() < cfg.naive_time_share else "iso")
            rendered = _render(e, style)
            records.append((rendered, {"kind": "naive_timestamp"} if style == "naive" else None))
            if rng.random() < cfg.malformed_share and style != "naive":
                kind = str(rng.choice(kinds))
                if kind == "broken_json" and name.endswith(".json.gz"):
                    kind = "missing_user"
                records.append(_plant(kind, rendered, rng))
        lines, is_array = [], name.endswith(".json.gz")
        for number, (rec, note) in enumerate(records, start=1):
            lines.append(rec if isinstance(rec, str) else json.dumps(rec, separators=(",", ":")))
            if note:
                truth.append({"file": name, "line": number, "event_id": _eid(rec), **_truth(note)})
        telemetry[name] = ["[" + ",\n".join(lines) + "]"] if is_array else lines
    return telemetry, truth


def _eid(rec) -> str | None:
    return rec.get("event_id") if isinstance(rec, dict) else None


def _truth(note: dict) -> dict:
    kind = note["kind"]
    expected = PLANTED.get(kind)
    return {"kind": kind, "expected_reason": expected[0] if expected else None,
            "expected_field": expected[1] if expected else None}


def _plant(kind: str, rendered: dict, rng: np.random.Generator) -> tuple[dict | str, dict]:
    bad = json.loads(json.dumps(rendered))
    if kind == "duplicate":
        return bad, {"kind": kind}
    if kind not in ("duplicate", "conflicting_duplicate"):
        bad["event_id"] = f"{rendered['event_id']}-x{int(rng.integers(1_000_000))}"
    if kind == "broken_json":
        text = json.dumps(bad, separators=(",", ":"))
        return text[: int(len(text) * rng.uniform(0.3, 0.9))], {"kind": kind}
    if kind == "missing_user":
        bad.pop("user_id")
    elif kind == "bad_timestamp":
        bad["timestamp"] = str(rng.choice(["yesterday", "31/02/2026 25:61", "2026-13-45T99:00:00Z", "soon"]))
    elif kind == "user_as_object":
        bad["user_id"] = {"id": bad["user_id"]}
    elif kind == "duration_as_text":
        bad.setdefault("response", {"prompt_id": "p"})["duration_ms"] = "three seconds"
    elif kind == "score_out_of_range":
        bad.setdefault("response", {"prompt_id": "p"})["score"] = round(float(rng.uniform(1.5, 100)), 2)
    elif kind == "conflicting_duplicate":
        bad["client_retry"] = True
    elif kind == "unknown_event_type":
        bad["event_type"] = "streak_freeze_used"
    return bad, {"kind": kind}


