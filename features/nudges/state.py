"""The ``nudge_state`` table: per learner x nudge type, what was sent and whether it was opened,
carried from one run date to the next.

Run date D reads the state of the latest run date strictly before D (so a rerun or backfill of D
starts from the same state), resolves the sends whose open window has passed against the
``nudge_opened`` events seen by D, applies the caps, and writes its own partition with this
run's sends added. Held-out learners' would-be nudges are never sends.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
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
    passed is opened (an open of its type within that window: streak back to 0) or ignored
    (streak + 1), in time order; any open after the last send lifts a suppression; sends older
    than 7 days drop out of ``sends``."""
    if not len(state):
        return empty_state()
    window, now = pd.Timedelta(hours=options.ignore_after_hours), pd.Timestamp(as_of)
    keys = ["user_id", "type"]
    out = state.reset_index(drop=True).copy()
    out["_row"] = out.index
    sends = out[["_row", *keys, "unresolved"]].explode("unresolved").dropna(subset=["unresolved"])
    sends["sent"] = pd.to_datetime(sends["unresolved"], utc=True)
    due = sends[sends["sent"] + window <= now][["_row", *keys, "sent"]]
    opened_rows = opens.assign(ts=pd.to_datetime(opens["ts"], utc=True))[keys + ["ts"]] if len(opens) else \
        pd.DataFrame(columns=keys + ["ts"])
    hits = due.merge(opened_rows, on=keys)
    hits = hits[(hits["ts"] >= hits["sent"]) & (hits["ts"] <= hits["sent"] + window)]
    due = due.assign(opened=due.set_index(["_row", "sent"]).index.isin(hits.set_index(["_row", "sent"]).index))
    due = due.sort_values(["_row", "sent"])
    # ignored sends after the last opened one, per row; rows with an opened send restart from 0
    due["after_open"] = due.iloc[::-1].groupby("_row")["opened"].cumsum().iloc[::-1] == 0
    ignored = due[~due["opened"] & due["after_open"]].groupby("_row").size()
    reset = due.groupby("_row")["opened"].any()
    base = out["ignored_streak"].astype(int).where(~out["_row"].map(reset).fillna(False).astype(bool), 0)
    streak = base + out["_row"].map(ignored).fillna(0).astype(int)
    latest_open = opened_rows[opened_rows["ts"] <= now].groupby(keys)["ts"].max().rename("_open").reset_index()
    out = out.merge(latest_open, on=keys, how="left")
    out["last_opened_at"] = out["_open"].where(out["_open"].notna(), pd.to_datetime(out["last_opened_at"], utc=True))
    lifted = out["last_opened_at"].notna() & out["last_sent_at"].notna() & (
        out["last_opened_at"] >= pd.to_datetime(out["last_sent_at"], utc=True))
    out["ignored_streak"] = streak.where(~lifted, 0).astype(int)
    out["suppressed"] = out["ignored_streak"] >= options.suppress_after_ignored
    out["unresolved"] = _after(out["unresolved"], now - window)
    out["sends"] = _after(out["sends"], now - pd.Timedelta(days=7))
    return out[STATE_SCHEMA.names]


def _after(lists: pd.Series, cut: pd.Timestamp) -> list[list]:
    """Return each list of send times without those at or before ``cut``."""
    cut = cut.to_pydatetime()
    return [[t for t in ts if t > cut] if len(ts) else [] for ts in lists]


def with_sends(state: pd.DataFrame, sent: pd.DataFrame) -> pd.DataFrame:
    """Return ``state`` with this run's sends (user_id, type, send_after; one per learner and
    type, as planning guarantees) added, sorted by learner and type."""
    if not len(sent):
        return state
    keys = ["user_id", "type"]
    new = sent[[*keys, "send_after"]].rename(columns={"send_after": "_new"})
    if new.duplicated(keys).any():
        raise ValueError("with_sends: more than one send per learner and type in one run")
    out = state.merge(new, on=keys, how="outer").sort_values(keys, kind="stable").reset_index(drop=True)
    has = out["_new"].notna().to_numpy()
    sent_at = np.full(len(out), None, dtype=object)
    sent_at[has] = np.asarray(out.loc[has, "_new"].dt.to_pydatetime())
    out["sends"] = [_added(s, n) for s, n in zip(out["sends"], sent_at)]
    out["unresolved"] = [_added(u, n) for u, n in zip(out["unresolved"], sent_at)]
    out["last_sent_at"] = out["_new"].where(has, pd.to_datetime(out["last_sent_at"], utc=True))
    out["ignored_streak"] = out["ignored_streak"].fillna(0).astype(int)
    out["suppressed"] = out["suppressed"].fillna(False).astype(bool)
    return out[STATE_SCHEMA.names]


def _added(times, new) -> list:
    """Return a copy of the list ``times`` (empty when missing) with ``new`` appended unless None."""
    out = list(times) if isinstance(times, list) else []
    if new is not None:
        out.append(new)
    return out


def read_state(table: pa.Table) -> pd.DataFrame:
    """Return a published ``nudge_state`` partition as the frame ``resolve`` takes (times as
    timezone-aware datetimes, lists as lists)."""
    return pd.DataFrame(table.cast(STATE_SCHEMA).to_pylist(), columns=STATE_SCHEMA.names) if table.num_rows \
        else empty_state()


def state_table(state: pd.DataFrame) -> pa.Table:
    """Return the state as a table of ``STATE_SCHEMA``."""
    return pa.Table.from_pandas(state[STATE_SCHEMA.names], schema=STATE_SCHEMA, preserve_index=False)
