"""Report sections computed from a small hand-made run: each headline's number is what the
tables say, and missing parts (no model, no nudges, no attributes) are said plainly."""

from __future__ import annotations

import pytest

from features.insights import build_sections, insights
from features.insights.engagement import funnel
from tests.features.insights.tiny_run import run_tables

def headlines(sections):
    return {s.key: s.headline for s in sections}


def test_the_funnel_counts_who_reached_each_phase_and_who_stopped_there():
    steps = funnel(run_tables()).set_index("phase")
    assert steps["reached"].tolist() == [40, 20, 8]
    assert steps["stopped_here"].tolist() == [12, 3, 0]
    h = headlines(build_sections(run_tables()))["engagement"]
    assert h.number == 30.0 and "30% of the 40 learners who reached intro" in h.statement  # 12 / 40


def test_every_headline_is_a_sentence_with_its_number_and_leads_the_insights_table():
    sections = build_sections(run_tables())
    table = insights(sections)
    heads = table[table["headline"]]
    assert list(heads["section"]) == ["engagement", "risk", "nudges", "fairness", "groups", "voice", "data_quality"]
    assert list(table["rank"]) == list(range(1, len(table) + 1))
    found = headlines(sections)
    assert found["risk"].number == 16 and "16 learners (40% of the 40 scored)" in found["risk"].statement
    assert found["nudges"].number == 3 and "1 more were held back from 1 learners" in found["nudges"].statement
    assert found["groups"].number == 41.0 and "fading" in found["groups"].statement
    assert found["data_quality"].number == 3.0  # 30 of 1000 quarantined
    assert found["voice"].insight_id == "voice_trend:pause_ratio_rel_mean" and found["voice"].number == 4.0
    for s in sections:
        assert s.charts, f"section {s.key} has no chart"


@pytest.mark.parametrize("missing, section, says", [
    ({"with_model": False}, "risk", "not scored for any of the 40 learners (no_model)"),
    ({"with_nudges": False}, "nudges", "no nudge rules are configured"),
    ({"with_attributes": False}, "fairness", "no learner attributes were given"),
])
def test_a_missing_part_is_said_plainly(missing, section, says):
    found = headlines(build_sections(run_tables(**missing)))[section]
    assert says in found.statement and found.number == 0


def test_the_risk_section_lists_the_learners_most_at_risk_with_their_drivers():
    risk = next(s for s in build_sections(run_tables()) if s.key == "risk")
    caption, top = risk.tables[0]
    assert top["learner"].iloc[0] == "u39" and top["probability"].is_monotonic_decreasing
    assert top["top drivers (contribution to log-odds)"].iloc[0] == "days since last activity = 20 (+1.50)"
    assert {c.key for c in risk.charts} == {"risk_distribution", "risk_calibration", "risk_status"}


def test_a_run_with_no_learner_activity_still_gets_every_section():
    tables = run_tables()
    for name in ("phase_scores", "learners", "groups", "phase_activity"):
        setattr(tables, name, getattr(tables, name).iloc[0:0])
    tables.nudges, tables.nudge_assignments = tables.nudges.iloc[0:0], tables.nudge_assignments.iloc[0:0]
    sections = build_sections(tables)
    assert [s.key for s in sections] == ["engagement", "voice", "groups", "risk", "nudges", "fairness", "data_quality"]
    assert all(s.headline.statement and s.headline.number == s.headline.number for s in sections)  # no NaN
    assert headlines(sections)["engagement"].number == 0


def test_answers_by_alignment_status_are_charted_only_when_some_prompt_had_a_text():
    def charts(statuses):
        tables = run_tables()
        tables.alignment_status = statuses
        return {c.key for c in next(s for s in build_sections(tables) if s.key == "data_quality").charts}

    assert "alignment_status" in charts({"ok": 120, "not_aligned": 10, "no_text": 50, "no_audio": 20})
    assert "alignment_status" not in charts({"no_text": 180, "no_audio": 20})
    assert "alignment_status" not in charts({})
