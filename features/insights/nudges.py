"""The nudge section: this run's plan by type and channel, the holdout, and the measured effect
of earlier nudges with its interval."""

from __future__ import annotations

import pandas as pd

from features.insights.model import Chart, Finding, RunTables, Section


def nudges_section(t: RunTables) -> Section:
    """The nudge plan and the measured effects of earlier nudges."""
    if t.nudges is None:
        return Section("nudges", "Nudges", [Finding("nudges_planned", "0 nudges were planned: no nudge rules are "
                                                    "configured (nudges.rules).", 0.0, "nudges")])
    nudges, assignments = t.nudges, t.nudge_assignments
    held = assignments[assignments["arm"] == "held_out"] if assignments is not None else pd.DataFrame(
        columns=["user_id"])
    held_learners = held["user_id"].nunique()
    findings = [Finding("nudges_planned", f"{len(nudges)} nudges are planned for {nudges['user_id'].nunique()} "
                        f"learners; {len(held)} more were held back from {held_learners} "
                        f"learners in the holdout to measure whether nudges work.", float(len(nudges)), "nudges")]
    charts = []
    if len(nudges):
        plan = nudges.groupby(["type", "channel"]).size().unstack("channel", fill_value=0)
        charts.append(Chart("nudge_plan", "Planned nudges by type and channel", "bar", plan, ylabel="nudges"))
    effects = t.nudge_effects if t.nudge_effects is not None else pd.DataFrame()
    note = None
    measured = effects[(effects["scope"] != "type x band") & (effects["held_out"] > 0) & (effects["treated"] > 0)] \
        if len(effects) else effects
    if len(measured):
        overall = measured[measured["scope"] == "overall"]
        if len(overall):
            o = overall.iloc[0]
            findings.append(Finding(
                "nudge_effect_overall",
                f"Nudged learners came back within 7 days {100 * o['uplift']:+.1f} percentage points more often than "
                f"held-out learners (95% interval {100 * o['ci_low']:+.1f} to {100 * o['ci_high']:+.1f}; "
                f"{o['treated']} treated, {o['held_out']} held out).", round(100 * float(o["uplift"]), 1),
                "percentage points"))
        labels = ["all nudges" if s == "overall" else ty for s, ty in zip(measured["scope"], measured["type"])]
        charts.append(Chart("nudge_effects", "Return within 7 days, nudged minus held out (95% interval)", "interval",
                            pd.DataFrame({"uplift": 100 * measured["uplift"].to_numpy(),
                                          "low": 100 * measured["ci_low"].to_numpy(),
                                          "high": 100 * measured["ci_high"].to_numpy()}, index=labels),
                            xlabel="percentage points"))
    else:
        note = ("No effect measured yet: effects need the 7 days after an earlier run's nudges, with learners in "
                "both arms.")
    tables = [("Measured effects", measured.drop(columns=["risk_band"]))] if len(measured) else []
    return Section("nudges", "Nudges", findings, charts, tables, note)
