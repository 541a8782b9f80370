"""The data-quality section: quarantine by reason, audio and emotion statuses, unmapped
responses and score coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.insights.model import Chart, Finding, RunTables, Section, share


def quality_section(t: RunTables) -> Section:
    """What the run could not use, and why."""
    ingest, responses = t.counts["ingest"], t.counts["responses"]
    reasons = pd.Series(ingest["quarantined_by_reason"], dtype="int64").sort_values()
    top = f", most for {reasons.index[-1]} ({reasons.iloc[-1]})" if len(reasons) else ""
    findings = [Finding("quarantined_share", f"{ingest['quarantined']} of {ingest['input_records']} input records "
                        f"({share(ingest['quarantined'], ingest['input_records']):.1f}%) were quarantined{top}.",
                        share(ingest["quarantined"], ingest["input_records"]), "%")]
    findings.append(Finding("unmapped_responses", f"{responses['unmapped']} of {responses['responses']} spoken answers "
                            f"({share(responses['unmapped'], responses['responses']):.1f}%) could not be placed in the "
                            "curriculum.", share(responses["unmapped"], responses["responses"]), "%"))
    total = sum(t.audio_status.values())
    if total:
        findings.append(Finding("audio_ok_share", f"{share(t.audio_status.get('ok', 0), total):.1f}% of spoken answers "
                                "had audio that could be analysed.", share(t.audio_status.get("ok", 0), total), "%"))
    charts = []
    if len(reasons):
        charts.append(Chart("quarantine_reasons", "Quarantined records by reason", "barh",
                            reasons.to_frame("records"), xlabel="records"))
    # Alignment only says something when the curriculum gave some prompt a text.
    aligned = t.alignment_status if set(t.alignment_status) - {"no_text", "no_audio"} else {}
    for key, title, counts in (("audio_status", "Spoken answers by audio status", t.audio_status),
                               ("emotion_status", "Spoken answers by emotion model status", t.emotion_status),
                               ("alignment_status", "Spoken answers by alignment to the prompt's text", aligned)):
        if counts:
            charts.append(Chart(key, title, "barh", pd.Series(counts).sort_values().to_frame("answers"),
                                xlabel="answers"))
    coverage = t.phase_scores["coverage"].dropna().clip(0, 1)
    if len(coverage):
        edges = np.linspace(0, 1, 11)
        counts, _ = np.histogram(coverage, bins=edges)
        charts.append(Chart("coverage", "Share of the score's weight that had data (coverage), learner x phase",
                            "bar", pd.DataFrame({"learner x phase": counts}, index=[f"{a:.1f}" for a in edges[:-1]]),
                            xlabel="coverage from", ylabel="rows"))
    emotion = t.models.get("emotion") or {}
    note = f"Emotion model: {emotion.get('unavailable')}" if emotion.get("unavailable") else None
    return Section("data_quality", "Data quality", findings, charts, note=note)
