"""The platform goes on after a run with its nudges delivered: the learners' past is unchanged,
nudge events are written for treated learners only, and a second run measures the planted effect
(one seed here; benchmarks/nudge_effects.py runs twenty)."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from benchmarks.nudge_effects import one_seed
from features.curriculum import load_curriculum
from features.simulation.platform import SimulationConfig, simulate
from features.simulation.publish import DEMO_CURRICULUM
from outputs.tables import read_partition


def test_running_the_simulation_longer_keeps_every_earlier_event():
    cfg = SimulationConfig(learners=80, seed=4, weeks=6)
    curriculum = load_curriculum(DEMO_CURRICULUM)
    end = datetime.combine(cfg.start_date, datetime.min.time(), timezone.utc) + timedelta(weeks=cfg.weeks)
    short, longer = simulate(cfg, curriculum), simulate(replace(cfg, weeks=8), curriculum)
    assert [e for e in longer.events if e["timestamp"] < end] == [e for e in short.events if e["timestamp"] < end]
    assert len(longer.events) > len(short.events)


@pytest.mark.slow
def test_a_planted_effect_is_recovered_and_the_null_type_covers_zero(tmp_path, prefect_harness):
    result = one_seed(tmp_path, seed=3, learners=900)
    comeback, streak = result["comeback"], result["streak"]
    assert comeback["truth"] > 0.05 and comeback["covered"] and comeback["uplift"] > streak["uplift"]
    assert streak["truth"] == 0 and streak["covers_zero"]
    truth = json.loads((tmp_path / "sim" / "truth" / "nudge_effects.json").read_text())
    lines = [json.loads(x) for x in gzip.decompress((tmp_path / "sim" / "telemetry" / truth["file"]).read_bytes())
             .decode().splitlines()]
    sent = {x["user_id"] for x in lines if x["event_type"] == "nudge_sent"}
    first_day = min(p.name for p in (tmp_path / "out" / "nudge_assignments").iterdir())
    assigned = read_partition(tmp_path / "out", "nudge_assignments",
                              pd.Timestamp(first_day.split("=")[1]).date()).to_pandas()
    assert sent == set(assigned.loc[assigned["arm"] == "treated", "user_id"])
    assert {"nudge_opened", "lesson_start"} <= {x["event_type"] for x in lines} and truth["planted_returns"] > 0
