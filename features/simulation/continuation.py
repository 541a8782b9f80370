"""The demo platform goes on after a run: it delivers that run's nudges and its learners respond
with a planted effect, then it simulates two more weeks.

The learners' own behaviour after the run is the same simulation run longer (same seed: every
event up to the first run is identical), so it is the world without nudges. A treated learner
assigned a type with planted effect q (by type and risk band) who would not have come back within
7 days of the assignment comes back (a short session at a random time in those days) with
probability q. Held-out learners are untouched. Each delivered nudge gives a ``nudge_sent`` event
and, with probability ``open_rate``, a ``nudge_opened`` one. The planted effects, and the uplift
they imply on the learners actually assigned (q x the share who would not have come back), go to
``truth/nudge_effects.json``.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from features.activity import LEARNER_EVENT_TYPES
from features.curriculum import load_curriculum
from features.simulation.platform import SimulationConfig, simulate
from features.simulation.publish import DEMO_CURRICULUM
from features.simulation.telemetry import _render

# Planted effect: probability that a learner who would not have come back within 7 days does,
# by nudge type and risk band. `comeback` helps, more the riskier the learner; the others do nothing.
PLANTED = {"comeback": {"high": 0.30, "medium": 0.20, "low": 0.10, "unscored": 0.20}}
WINDOW = timedelta(days=7)


def _config(sim_dir: Path) -> SimulationConfig:
    saved = json.loads((sim_dir / "truth" / "simulation.json").read_text())["config"]
    return SimulationConfig(learners=int(saved["learners"]), seed=int(saved["seed"]), weeks=int(saved["weeks"]),
                            start_date=date.fromisoformat(saved["start_date"]),
                            signup_spread_days=int(saved["signup_spread_days"]), audio_base_uri=saved["audio_base_uri"])


def continue_platform(sim_dir: str | Path, nudges: pd.DataFrame, assignments: pd.DataFrame, as_of: datetime,
                      weeks_more: int = 2, planted: dict = PLANTED, open_rate: float = 0.4, seed: int = 0) -> dict:
    """Write ``telemetry/continuation-<date>.ndjson.gz`` (the learners' events after ``as_of``
    for ``weeks_more`` weeks past the simulated end, the nudge events and the planted returns)
    and ``truth/nudge_effects.json``; return the truth. ``nudges`` and ``assignments`` are the
    run's tables (``send_after``, ``nudge_id``; ``arm``, ``type``, ``risk_band``)."""
    sim_dir = Path(sim_dir)
    cfg = _config(sim_dir)
    world = simulate(replace(cfg, weeks=cfg.weeks + weeks_more), load_curriculum(DEMO_CURRICULUM))
    people = world.learners.set_index("user_id")[["utc_offset_min", "course_id"]].to_dict("index")
    rng = np.random.default_rng([cfg.seed, seed, 777])
    after = [e for e in world.events if e["timestamp"] > as_of]
    came_back = {e["user_id"] for e in after if e["event_type"] in LEARNER_EVENT_TYPES
                 and e["timestamp"] <= as_of + WINDOW}
    added = []
    for row in nudges.sort_values("nudge_id").to_dict("records"):
        sent = pd.Timestamp(row["send_after"]).to_pydatetime()
        added.append(_event(row["user_id"], "nudge_sent", sent, people, nudge_id=row["nudge_id"], nudge_type=row["type"]))
        if rng.random() < open_rate:
            added.append(_event(row["user_id"], "nudge_opened", sent + timedelta(hours=float(rng.uniform(0.1, 24))),
                                people, nudge_id=row["nudge_id"], nudge_type=row["type"]))
    units = assignments.drop_duplicates(["user_id", "type"]).sort_values(["type", "user_id"])
    units = units.assign(risk_band=units["risk_band"].fillna("unscored"),
                         q=[planted.get(t, {}).get(b, 0.0) for t, b in zip(units["type"], units["risk_band"].fillna("unscored"))],
                         came_back=[u in came_back for u in units["user_id"]])
    returned = set()
    for row in units[(units["arm"] == "treated") & ~units["came_back"]].to_dict("records"):
        if row["user_id"] not in returned and rng.random() < row["q"]:
            returned.add(row["user_id"])
            t = as_of + timedelta(days=float(rng.uniform(0.2, 6.8)))
            added += [_event(row["user_id"], kind, t + timedelta(seconds=20 * k), people)
                      for k, kind in enumerate(("app_open", "session_start", "lesson_start", "session_end"))]
    name = f"continuation-{as_of:%Y%m%d}.ndjson.gz"
    lines = [json.dumps(_render(e, "iso"), separators=(",", ":")) for e in sorted(after + added, key=lambda e: e["timestamp"])]
    (sim_dir / "telemetry" / name).write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    truth = {"as_of": as_of.isoformat(), "planted": planted, "open_rate": open_rate, "file": name,
             "events": len(lines), "planted_returns": len(returned), "types": {}}
    for kind, part in units.groupby("type"):
        truth["types"][kind] = {"assigned": int(len(part)), "would_come_back": round(float(part["came_back"].mean()), 4),
                                "expected_uplift": round(float((part["q"] * ~part["came_back"]).mean()), 4)}
    (sim_dir / "truth" / "nudge_effects.json").write_text(json.dumps(truth, indent=2))
    return truth


def _event(user_id: str, kind: str, ts: datetime, people: dict, **fields) -> dict:
    return {"event_id": f"{user_id}-{kind}-{ts:%Y%m%d%H%M%S%f}", "event_type": kind, "user_id": user_id,
            "timestamp": ts, "course_id": people[user_id]["course_id"], "_offset": int(people[user_id]["utc_offset_min"]),
            "_epoch_ms": False, **fields}
