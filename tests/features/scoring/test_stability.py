"""Scores that do not drift when learners join, and learner groups whose ids survive a refit."""

from __future__ import annotations

import gzip
from datetime import date

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from features.activity import phase_activity
from features.curriculum import load_curriculum
from features.groups import fit_groups, learner_features
from features.ingest import IngestOptions, finalize_events, stage_file
from features.placement import place_events
from features.responses import build_responses, latest_time
from features.scoring.components import ScoringOptions, metrics_table
from features.scoring.reference import fit_reference
from features.scoring.scores import phase_scores
from features.sessions import assign_sessions, build_sessions
from features.simulation.platform import SimulationConfig, simulate
from features.simulation.publish import DEMO_CURRICULUM


def activity_of(learners: int, folder) -> pd.DataFrame:
    """Phase activity of a clean simulated platform (no planted problems, audio not analysed)."""
    curriculum = load_curriculum(DEMO_CURRICULUM)
    cfg = SimulationConfig(learners=learners, seed=5, malformed_share=0.0, naive_time_share=0.0)
    platform = simulate(cfg, curriculum)
    folder.mkdir()
    staged = []
    for i, (name, lines) in enumerate(sorted(platform.telemetry.items())):
        (folder / name).write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
        staged.append(stage_file(folder / name, name, i, folder / "staged", IngestOptions()))
    finalize_events(staged, folder / "e.parquet", folder / "q.parquet", IngestOptions())
    events = pq.read_table(folder / "e.parquet")
    timeline = assign_sessions(place_events(events, curriculum))
    as_of = pd.Timestamp("2026-10-26T00:00:00Z").to_pydatetime()
    assert latest_time(events) < as_of
    return phase_activity(timeline, build_sessions(timeline), build_responses(timeline, curriculum.languages()), as_of,
                          phase_lessons=curriculum.lessons_per_phase())


@pytest.fixture(scope="module")
def platforms(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stability")
    return {"base": activity_of(200, tmp / "base"), "more": activity_of(250, tmp / "more")}


def test_fifty_more_learners_leave_every_other_score_unchanged_with_a_fixed_reference(platforms):
    base_metrics = metrics_table(platforms["base"]).to_pandas()
    reference = fit_reference(base_metrics)
    before = phase_scores(base_metrics, reference, ScoringOptions(), "score-1")
    after = phase_scores(metrics_table(platforms["more"]).to_pandas(), reference, ScoringOptions(), "score-1")
    keys = ["user_id", "course_id", "phase"]
    joined = before.merge(after, on=keys, suffixes=("", "_after"))
    assert len(joined) == len(before) and len(after) > len(before)
    for column in ["engagement_score", "coverage", "regularity", "pace", "completion", "responsiveness"]:
        assert joined[column].equals(joined[f"{column}_after"]), column


def ari(a, b) -> float:
    from sklearn.metrics import adjusted_rand_score

    return adjusted_rand_score(a, b)


def test_refit_with_five_percent_more_learners_keeps_ids_and_names(platforms):
    base = learner_features(platforms["base"])
    first, groups, state = fit_groups(base, None, date(2026, 10, 1))
    more = learner_features(platforms["more"]).head(int(len(base) * 1.05))
    second, groups_again, _ = fit_groups(more, state, date(2026, 10, 2))
    common = base[["user_id"]].assign(first=first.to_numpy()).merge(
        more[["user_id"]].assign(second=second.to_numpy()), on="user_id")
    assert ari(common["first"], common["second"]) >= 0.9
    assert {(g["group_id"], g["name"]) for g in groups} == {(g["group_id"], g["name"]) for g in groups_again}
    assert all(g["first_seen"] == "2026-10-01" for g in groups_again)


def test_a_planted_block_of_unlike_learners_gets_a_new_group_id(platforms):
    base = learner_features(platforms["base"])
    _, groups, state = fit_groups(base, None, date(2026, 10, 1))
    rng = np.random.default_rng(0)
    block = pd.DataFrame({"user_id": [f"new{i}" for i in range(30)], "course_id": "english",
                          "practice_days_per_week": rng.normal(6.8, 0.1, 30), "minutes_per_active_day": rng.normal(90, 2, 30),
                          "completion_rate": 1.0, "answer_effort_ratio": rng.normal(2.8, 0.05, 30),
                          "pitch_range_st": rng.normal(base["pitch_range_st"].max() * 1.5, 0.1, 30),
                          "latency_s": rng.normal(1.0, 0.05, 30)})
    assignment, groups_after, _ = fit_groups(pd.concat([base, block], ignore_index=True), state, date(2026, 10, 2))
    old_ids = {g["group_id"] for g in groups}
    new = [g for g in groups_after if g["group_id"] not in old_ids]
    assert len(new) == 1 and new[0]["first_seen"] == "2026-10-02"
    assert (assignment.iloc[len(base):] == new[0]["group_id"]).mean() >= 0.9
