"""The fairness section: score, risk and nudge rates by age band and gender, gaps flagged
where they pass the configured thresholds."""

from __future__ import annotations

from features.fairness import METRICS, FairnessOptions, breakdown, gaps, learner_outcomes
from features.insights.model import Chart, Finding, RunTables, Section


def fairness_section(t: RunTables, options: FairnessOptions) -> Section:
    """Breakdowns by the configured attributes; says so plainly when no attributes were given."""
    if t.attributes is None:
        return Section("fairness", "Fairness", [Finding(
            "fairness_gaps_flagged", "0 gaps could be checked: no learner attributes were given (inputs.attributes), "
            "so scores, risk and nudges could not be broken down by age band or gender.", 0.0, "gaps flagged")])
    outcomes = learner_outcomes(t.learners, t.nudge_assignments, t.attributes, options.breakdowns)
    table, found = breakdown(outcomes, options), gaps(outcomes, options)
    flagged = found[found["flagged"]]
    if len(flagged):
        worst = flagged.assign(ratio=flagged["gap"] / flagged["threshold"]).sort_values("ratio").iloc[-1]
        label, unit = METRICS[worst["metric"]]
        scale, unit = (1, "points") if unit == "points" else (100, "percentage points")
        detail = (f"the largest, {label}, is {scale * worst['gap']:.1f} {unit} higher for {worst['attribute']} "
                  f"{worst['high_value']} than {worst['low_value']} (95% interval {scale * worst['ci_low']:.1f} to "
                  f"{scale * worst['ci_high']:.1f}; threshold {scale * worst['threshold']:g})")
    else:
        detail = "no gap passes its threshold"
    headline = Finding("fairness_gaps_flagged", f"{len(flagged)} of {len(found)} gaps between groups of learners are "
                       f"flagged: {detail}.", float(len(flagged)), "gaps flagged",
                       f"{', '.join(options.breakdowns)}")
    shown = table[table["compared"]]
    index = [f"{a}: {v}" for a, v in zip(shown["attribute"], shown["value"])]
    charts = [Chart(f"fairness_{metric}", f"{label.capitalize()} by group", "barh",
                    shown[[metric]].set_axis(index).astype(float), xlabel=unit)
              for metric, (label, unit) in METRICS.items() if shown[metric].notna().any()]
    small = table[~table["compared"]]
    note = (f"Groups with fewer than {options.min_group_size} learners or unknown values are shown in the table but not "
            f"compared: {', '.join(f'{a} {v}' for a, v in zip(small['attribute'], small['value']))}."
            if len(small) else None)
    return Section("fairness", "Fairness", [headline], charts,
                   [("Gaps between the highest and lowest group", found), ("Groups", table)], note)
