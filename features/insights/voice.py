"""The voice section: how learners' energy, hesitation, fluency and emotion move across phases,
each relative to the learner's own usual voice where the pipeline computes it so."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.insights.model import Chart, Finding, RunTables, Section

# column in phase_activity (or phase_scores) -> (label, unit, scale to the unit, table)
MEASURES = {
    "loudness_mean_db_rel_mean": ("vocal energy vs own usual", "dB", 1.0, "phase_activity"),
    "pause_ratio_rel_mean": ("share of the answer in pauses vs own usual", "percentage points", 100.0,
                             "phase_activity"),
    "speaking_rate_syl_per_s_rel_mean": ("speaking rate vs own usual", "syllables/s", 1.0, "phase_activity"),
    "fluency": ("fluency score", "points", 1.0, "phase_scores"),
    "valence_mean": ("emotional valence", "valence", 1.0, "phase_activity"),
}


def voice_trends(t: RunTables) -> dict[str, pd.DataFrame]:
    """Return per measure with data: its median per phase index (rows) and course (columns),
    in the measure's unit."""
    trends = {}
    for column, (_, _, scale, table) in MEASURES.items():
        frame = t.phase_activity if table == "phase_activity" else t.phase_scores
        if column not in frame.columns or frame[column].notna().sum() == 0:
            continue
        values = frame[["course_id", "phase_index"]].assign(value=frame[column].astype(float) * scale)
        trends[column] = values.groupby(["phase_index", "course_id"])["value"].median().unstack("course_id")
    return trends


def voice_section(t: RunTables) -> Section:
    """Voice trends across phases; the headline is the measure that moves most between the first
    and the last phase, relative to how much learners differ on it."""
    trends = voice_trends(t)
    changes = []
    for column, medians in trends.items():
        pooled = medians.mean(axis=1).dropna()
        if len(pooled) < 2:
            continue
        _, _, scale, table = MEASURES[column]
        frame = t.phase_activity if table == "phase_activity" else t.phase_scores
        spread = float(np.nanstd(frame[column].astype(float) * scale)) or 1.0
        change = float(pooled.iloc[-1] - pooled.iloc[0])
        changes.append((abs(change) / spread, column, change, int(pooled.index[0]), int(pooled.index[-1])))
    if changes:
        _, column, change, first, last = max(changes)
        label, unit, _, _ = MEASURES[column]
        headline = Finding(f"voice_trend:{column}",
                           f"Across phases, {label} moves most: the median changes by {change:+.2f} {unit} from "
                           f"phase {first + 1} to phase {last + 1}.", round(change, 2), unit)
    else:
        headline = Finding("voice_trend", "0 voice measures could be followed across phases: no answer's audio was analysed.", 0.0,
                           unit="measures")
    charts = [Chart(f"voice_{column}", f"Median {MEASURES[column][0]} by phase", "line", medians.round(3),
                    xlabel="phase (curriculum order)", ylabel=MEASURES[column][1])
              for column, medians in trends.items()]
    missing = [MEASURES[c][0] for c in MEASURES if c not in trends]
    note = f"Not measured in this run: {', '.join(missing)}." if missing else None
    return Section("voice", "Voice across phases", [headline], charts, note=note)
