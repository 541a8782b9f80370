"""The ``nudge_state`` table: per learner x nudge type, what was sent and whether it was opened,
carried from one run date to the next.

Run date D reads the state of the latest run date strictly before D (so a rerun or backfill of D
starts from the same state), resolves the sends whose open window has passed against the
``nudge_opened`` events seen by D, applies the caps, and writes its own partition with this
run's sends added. Held-out learners' would-be nudges are never sends.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pyarrow as pa

from features.duck import query, sql_str
from features.nudges.options import NudgeOptions

STATE_SCHEMA = pa.schema([
    ("user_id", pa.string()), ("type", pa.string()), ("last_sent_at", pa.timestamp("us", "UTC")),
    ("sends", pa.list_(pa.timestamp("us", "UTC"))),  # sends in the 7 days before the run (weekly caps)
    ("unresolved", pa.list_(pa.timestamp("us", "UTC"))),  # sends whose open window had not passed
    ("ignored_streak", pa.int64()), ("suppressed", pa.bool_()), ("last_opened_at", pa.timestamp("us", "UTC")),
])


def empty_state() -> pd.DataFrame:
    """Return a state with no rows."""
    return STATE_SCHEMA.empty_table().to_pandas()


def nudge_events(timeline: pa.Table, options: NudgeOptions) -> tuple[pd.DataFrame, set[str]]:
    """Return (opens: user_id, type, ts of every ``nudge_opened`` event naming its
    ``nudge_type``; the learners opted out as of the data: an opt-out event with no later
    opt-in)."""
    outs = ", ".join(sql_str(t) for t in options.opt_out_event_types) or "NULL"
    ins = ", ".join(sql_str(t) for t in options.opt_in_event_types) or "NULL"
    opens = query("SELECT user_id, json_extract_string(extra, '$.nudge_type') AS type, ts FROM t "
                  "WHERE event_type = 'nudge_opened' AND json_extract_string(extra, '$.nudge_type') IS NOT NULL",
                  t=timeline.select(["user_id", "event_type", "extra", "ts"])).to_pandas()
    opted = query(f"""SELECT user_id FROM t GROUP BY user_id
                      HAVING max(ts) FILTER (event_type IN ({outs})) >
                             coalesce(max(ts) FILTER (event_type IN ({ins})), TIMESTAMPTZ '1970-01-01 00:00:00+00')""",
                  t=timeline.select(["user_id", "event_type", "ts"])).column(0).to_pylist()
    return opens, set(opted)


def utc_offsets(timeline: pa.Table) -> dict[str, int]:
    """Return each learner's latest known UTC offset in minutes (learners without one are absent)."""
    latest = query("SELECT user_id, arg_max(utc_offset_min, ts) AS offset_min FROM t "
                   "WHERE utc_offset_min IS NOT NULL GROUP BY user_id", t=timeline.select(["user_id", "utc_offset_min", "ts"]))
    return dict(zip(latest["user_id"].to_pylist(), latest["offset_min"].to_pylist()))


def resolve(state: pd.DataFrame, opens: pd.DataFrame, as_of: datetime, options: NudgeOptions) -> pd.DataFrame:
    """Return the state as of ``as_of``: each unresolved send whose ``ignore_after_hours`` have
    passed is opened (streak back to 0) or ignored (streak + 1), in time order; any open after
    the last send lifts a suppression; sends older than 7 days drop out of ``sends``."""
    window = timedelta(hours=options.ignore_after_hours)
    opened = {key: sorted(group["ts"]) for key, group in opens.groupby(["user_id", "type"])} if len(opens) else {}
    rows = []
    for row in state.to_dict("records"):
        times = opened.get((row["user_id"], row["type"]), [])
        streak, still = int(row["ignored_streak"]), []
        for sent in sorted(row["unresolved"]):
            if sent + window > as_of:
                still.append(sent)
            elif any(sent <= t <= sent + window for t in times):
                streak = 0
            else:
                streak += 1
        last_open = max([t for t in times if t <= as_of], default=row["last_opened_at"])
        if pd.notna(last_open) and pd.notna(row["last_sent_at"]) and last_open >= row["last_sent_at"]:
            streak = 0
        rows.append({**row, "unresolved": still, "ignored_streak": streak,
                     "suppressed": streak >= options.suppress_after_ignored, "last_opened_at": last_open,
                     "sends": [s for s in row["sends"] if s > as_of - timedelta(days=7)]})
    return pd.DataFrame(rows, columns=STATE_SCHEMA.names) if rows else empty_state()


def with_sends(state: pd.DataFrame, sent: pd.DataFrame) -> pd.DataFrame:
    """Return ``state`` with this run's sends (user_id, type, send_after) added."""
    if not len(sent):
        return state
    indexed = {(r["user_id"], r["type"]): r for r in state.to_dict("records")}
    for row in sent.sort_values("send_after").to_dict("records"):
        key = (row["user_id"], row["type"])
        current = indexed.get(key) or {"user_id": key[0], "type": key[1], "last_sent_at": None, "sends": [],
                                        "unresolved": [], "ignored_streak": 0, "suppressed": False,
                                        "last_opened_at": None}
        at = row["send_after"]
        indexed[key] = {**current, "last_sent_at": at, "sends": list(current["sends"]) + [at],
                        "unresolved": list(current["unresolved"]) + [at]}
    return pd.DataFrame(sorted(indexed.values(), key=lambda r: (r["user_id"], r["type"])), columns=STATE_SCHEMA.names)


def read_state(table: pa.Table) -> pd.DataFrame:
    """Return a published ``nudge_state`` partition as the frame ``resolve`` takes (times as
    timezone-aware datetimes, lists as lists)."""
    return pd.DataFrame(table.cast(STATE_SCHEMA).to_pylist(), columns=STATE_SCHEMA.names) if table.num_rows \
        else empty_state()


def state_table(state: pd.DataFrame) -> pa.Table:
    """Return the state as a table of ``STATE_SCHEMA``."""
    return pa.Table.from_pandas(state[STATE_SCHEMA.names], schema=STATE_SCHEMA, preserve_index=False)
