"""The dropout-risk section: who is at risk, how the probabilities are spread, how well the
promoted model is calibrated, and the learners most at risk with what drives their risk."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from features.insights.model import Chart, Finding, RunTables, Section, share

TOP_AT_RISK = 15
BINS = 20


def drivers_text(drivers: str | None) -> str:
    """Return a learner's risk drivers (JSON from the learners table) as one readable line."""
    if not isinstance(drivers, str):
        return ""
    parts = []
    for d in json.loads(drivers):
        value = "n/a" if d["value"] is None else f"{d['value']:g}"
        parts.append(f"{d['feature'].replace('_', ' ')} = {value} ({d['contribution']:+.2f})")
    return "; ".join(parts)


def risk_section(t: RunTables) -> Section:
    """Risk bands, the probability distribution, the model's calibration curve and the learners
    most at risk."""
    learners = t.learners
    statuses = learners["risk_status"].fillna("none").value_counts().sort_index()
    charts = [Chart("risk_status", "Learners by risk status", "barh", statuses.to_frame("learners"),
                    xlabel="learners")]
    scored = learners[learners["risk_probability"].notna()]
    model = t.risk_model
    if not len(scored):
        reason = (t.models.get("risk_model") or {}).get("status", "no model")
        return Section("risk", "Dropout risk", [Finding(
            "high_risk_learners", f"Dropout risk was not scored for any of the {len(learners)} learners ({reason}): "
            f"no risk model was promoted yet (`engage train-risk` trains one).", 0.0, "learners")], charts)
    horizon = int(scored["risk_horizon_days"].iloc[0])
    high = int((scored["risk_band"] == "high").sum())
    findings = [Finding("high_risk_learners",
                        f"{high} learners ({share(high, len(scored)):.0f}% of the {len(scored)} scored) are at high risk "
                        f"of dropping out within {horizon} days.", float(high), "learners")]
    edges = np.linspace(0, 1, BINS + 1)
    counts, _ = np.histogram(scored["risk_probability"].clip(0, 1), bins=edges)
    labels = [f"{a:.2f}" for a in edges[:-1]]
    charts.insert(0, Chart("risk_distribution", f"Dropout probability within {horizon} days (scored learners)", "bar",
                           pd.DataFrame({"learners": counts}, index=labels), xlabel="probability from",
                           ylabel="learners"))
    if model and model.get("metrics", {}).get("reliability"):
        reliability = pd.DataFrame(model["metrics"]["reliability"])
        charts.insert(1, Chart("risk_calibration", f"Calibration of model {model['version']} (evaluation slice)",
                               "calibration", reliability.set_index("predicted")[["observed"]],
                               xlabel="predicted probability", ylabel="observed share"))
        ev = model["metrics"]["evaluation"]
        findings.append(Finding("risk_model_quality", f"The risk model ranks learners with ROC-AUC {ev['auc']:.2f} and "
                                f"is off by {ev['ece']:.3f} on average between predicted and observed (calibration "
                                f"error) on its held-out weeks.", round(float(ev["auc"]), 3), "AUC",
                                f"model {model['version']}"))
    top = scored.sort_values(["risk_probability", "user_id"], ascending=[False, True]).head(TOP_AT_RISK)
    table = pd.DataFrame({"learner": top["user_id"], "course": top["course_id"], "phase": top["current_phase"],
                          "probability": top["risk_probability"].round(3), "band": top["risk_band"],
                          "days quiet": top["days_since_last_activity"].round(1), "score": top["latest_score"],
                          "top drivers (contribution to log-odds)": top["risk_drivers"].map(drivers_text)})
    return Section("risk", "Dropout risk", findings, charts, [("Learners most at risk", table)])
