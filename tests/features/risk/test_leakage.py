"""No leakage: a snapshot's features at day d are the same when everything after d is deleted,
on a simulated platform and on OULAD (whose outcome columns the feature code never sees)."""

from __future__ import annotations

import gzip
from datetime import timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from features.activity import ActivityRules, phase_activity
from features.audio_features import relative_to_usual
from features.curriculum import load_curriculum
from features.ingest import IngestOptions, finalize_events, stage_file
from features.placement import place_events
from features.responses import build_responses
from features.risk.features import FEATURES, midnight, phase_features, snapshot_features
from features.risk.options import RiskOptions
from features.risk.snapshots import daily_activity, outcome_times, snapshots
from features.scoring.components import DEFAULT_WEIGHTS, ScoringOptions, metrics_table
from features.scoring.reference import fit_reference
from features.sessions import assign_sessions, build_sessions
from features.simulation.platform import SimulationConfig, simulate
from features.simulation.publish import DEMO_CURRICULUM
from tests.conftest import SHARED_DATA

TONE = ("loudness_mean_db", "f0_range_st", "pause_ratio", "speaking_rate_syl_per_s")
# voice components weighted, so the current phase's score depends on the voice measures too
SCORING = ScoringOptions(weights={**DEFAULT_WEIGHTS, "vocal_energy": 0.2, "pitch_variation": 0.2, "hesitation": 0.2})


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """A clean simulated platform's cleaned events, with made-up voice measures per answer."""
    folder = tmp_path_factory.mktemp("leakage")
    curriculum = load_curriculum(DEMO_CURRICULUM)
    sim = simulate(SimulationConfig(learners=60, seed=5, malformed_share=0.0, naive_time_share=0.0), curriculum)
    staged = []
    for i, (name, lines) in enumerate(sorted(sim.telemetry.items())):
        (folder / name).write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
        staged.append(stage_file(folder / name, name, i, folder / "staged", IngestOptions()))
    finalize_events(staged, folder / "e.parquet", folder / "q.parquet", IngestOptions())
    return {"events": pq.read_table(folder / "e.parquet"), "curriculum": curriculum}


def _inputs(events: pa.Table, curriculum) -> tuple[pa.Table, pa.Table]:
    timeline = assign_sessions(place_events(events, curriculum))
    responses = build_responses(timeline, curriculum.languages()).to_pandas()
    # made-up measures that depend on the answer alone, and their _rel over the whole history
    # (as the published responses table has them: the feature code must not trust those)
    seeds = pd.util.hash_pandas_object(responses["response_id"], index=False).to_numpy()
    for k, column in enumerate(TONE + ("audio_duration_s",)):
        responses[column] = ((seeds >> np.uint64(8 * k)) % np.uint64(1000)).astype(float) / 100.0
    responses["audio_status"] = "ok"
    responses["emotion_label"] = np.where(seeds % np.uint64(3) == 0, "happy", "neutral")
    for column in ("valence", "arousal", "emotion_balance"):
        responses[column] = np.nan
    table = relative_to_usual(pa.Table.from_pandas(responses, preserve_index=False), list(TONE))
    return timeline, table


def _features(events: pa.Table, curriculum, rows: pd.DataFrame, day, reference) -> pd.DataFrame:
    timeline, responses = _inputs(events, curriculum)
    phase = phase_features(timeline, responses, day, ActivityRules(), curriculum.lessons_per_phase(), reference,
                           SCORING)
    return snapshot_features(rows, daily_activity(timeline, ActivityRules()), responses, {day: phase})


def test_platform_features_at_d_ignore_everything_after_d(platform):
    events, curriculum = platform["events"], platform["curriculum"]
    timeline, responses = _inputs(events, curriculum)
    options = RiskOptions()
    daily = daily_activity(timeline, ActivityRules())
    outcomes = outcome_times(timeline, curriculum.final_milestones(), options)
    last = pc.max(events["ts"]).as_py()
    reference = fit_reference(metrics_table(phase_activity(timeline, build_sessions(timeline), responses, last,
                                                           phase_lessons=curriculum.lessons_per_phase())).to_pandas())
    checked = 0
    for weeks in (4, 7):
        day = (pc.min(events["ts"]).as_py() + timedelta(weeks=weeks)).date()
        rows = snapshots(daily, outcomes, [day], options, last)
        full = _features(events, curriculum, rows, day, reference)
        cut = events.filter(pc.less(events["ts"], pa.scalar(midnight(day), events.schema.field("ts").type)))
        assert cut.num_rows < events.num_rows
        only_past = _features(cut, curriculum, rows, day, reference)
        assert len(rows) > 10 and full[list(FEATURES)].notna().any().all()
        pd.testing.assert_frame_equal(full[list(FEATURES)], only_past[list(FEATURES)], check_exact=False, rtol=1e-9)
        checked += len(rows)
    assert checked > 40


def test_oulad_features_at_d_ignore_everything_after_d_and_never_see_outcomes():
    from features.oulad import read_oulad
    from features.risk.oulad import OULAD_FEATURES, oulad_features, snapshots as oulad_snapshots, visible_tables

    if not (SHARED_DATA / "oulad").exists():
        pytest.skip(f"{SHARED_DATA / 'oulad'} is absent: the OULAD leakage check needs it")
    tables = read_oulad(SHARED_DATA / "oulad", ["2013J"])
    tables = {k: (v[v["code_module"].isin(["AAA", "BBB"])] if "code_module" in v.columns else v) for k, v in tables.items()}
    tables["studentAssessment"] = tables["studentAssessment"].merge(
        tables["assessments"][["id_assessment"]], on="id_assessment")
    visible = visible_tables(tables)
    assert "final_result" not in visible["studentInfo"] and "date_unregistration" not in visible["studentRegistration"]
    clicks = len(visible["studentVle"]) > 0
    for day in (30, 90):
        rows = oulad_snapshots(tables, [day], 14)
        full = oulad_features(visible, rows, clicks)
        cut = dict(visible)
        cut["studentAssessment"] = visible["studentAssessment"][visible["studentAssessment"]["date_submitted"] < day]
        cut["studentVle"] = visible["studentVle"][visible["studentVle"]["date"] < day]
        only_past = oulad_features(cut, rows, clicks)
        assert len(rows) > 100 and len(cut["studentAssessment"]) < len(visible["studentAssessment"])
        pd.testing.assert_frame_equal(full[list(OULAD_FEATURES)], only_past[list(OULAD_FEATURES)])
