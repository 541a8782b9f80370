"""Does the risk model see real withdrawals coming? Train on some OULAD presentations, test on
later ones.

Training snapshots are every ``every_days`` days of the training presentations; the trees are
fitted on all but the latest training presentation and calibrated (with the bands' threshold)
on the latest, so calibration is on a later slice than the trees, as on a platform. Tested at
days 30, 60 and 120 of the test presentations, on the students still registered that day, for
two outcomes: withdrawing later in the presentation (the headline, as published work reports
it) and withdrawing within the horizon. A logistic-regression baseline fitted on the same rows
is reported beside the model.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from features.oulad import OuladError, presentation_start, read_oulad
from features.risk.evaluation import auc, brier, ece
from features.risk.model import fit_model, fit_baseline
from features.risk.options import RiskOptions
from features.risk.oulad import OULAD_FEATURES, oulad_features, snapshots, visible_tables
from features.stats import bootstrap_ci

OUTCOMES = {"later": "withdraws_later", "within": "withdraws_within"}


def _with_ci(stat, labels, probabilities, boot: int, seed: int) -> dict:
    lo, hi = bootstrap_ci(stat, labels, probabilities, n=boot, seed=seed)
    return {"value": round(stat(labels, probabilities), 4), "ci95": [round(lo, 4), round(hi, 4)]}


def _frame(tables: dict, days: list[int], options: RiskOptions, clicks: bool) -> pd.DataFrame:
    snaps = snapshots(tables, days, options.horizon_days)
    return oulad_features(visible_tables(tables), snaps, clicks)


def evaluate_risk(train_dir: str | Path, test_dir: str | Path, train_presentations: list[str] | None = None,
                  test_presentations: list[str] | None = None, options: RiskOptions = RiskOptions(),
                  every_days: int = 7, days: tuple[int, ...] = (30, 60, 120), boot: int = 1000) -> dict:
    """Return the report: per outcome and test day, students, withdrawals, AUC, Brier and ECE of
    the model with 95% bootstrap intervals (students resampled) and the baseline's AUC; the
    headline AUCs as ``auc_day<d>``.

    Raises:
        OuladError: a folder without OULAD's tables, train and test sharing a presentation, or
            fewer than one presentation on either side.
    """
    train = read_oulad(train_dir, train_presentations)
    test = read_oulad(test_dir, test_presentations)
    train_pres = sorted(train["studentRegistration"]["code_presentation"].unique(), key=presentation_start)
    test_pres = sorted(test["studentRegistration"]["code_presentation"].unique(), key=presentation_start)
    if not train_pres or not test_pres:
        raise OuladError(f"no presentations to {'train' if not train_pres else 'test'} on "
                         f"(train {train_pres}, test {test_pres})")
    shared = sorted(set(train_pres) & set(test_pres)) if Path(train_dir).resolve() == Path(test_dir).resolve() else []
    if shared:
        raise OuladError(f"train and test share presentation(s) {shared}: pick them apart with "
                         "--train-presentations / --test-presentations")
    # Clicks only when every presentation has them: a feature present in training and absent in
    # testing would mean something else there.
    with_clicks = {p for t in (train, test) for p in t["studentVle"]["code_presentation"].unique()}
    clicks = set(train_pres) | set(test_pres) <= with_clicks
    longest = int(train["courses"]["module_presentation_length"].max())
    fit_rows = _frame(train, list(range(0, longest, every_days)), options, clicks)
    test_rows = _frame(test, list(days), options, clicks)
    features = [f for f in OULAD_FEATURES if fit_rows[f].notna().any()]
    later = fit_rows["code_presentation"] == train_pres[-1] if len(train_pres) > 1 else \
        fit_rows["id_student"] % 4 == 0  # one presentation: a quarter of its students calibrate
    report = {"train_presentations": train_pres, "test_presentations": test_pres, "clicks_used": clicks,
              "horizon_days": options.horizon_days, "features": features,
              "fit": {"trees_on": sorted(set(fit_rows.loc[~later, "code_presentation"])),
                      "calibrated_on": sorted(set(fit_rows.loc[later, "code_presentation"])),
                      "rows": int(len(fit_rows)), "every_days": every_days}, "outcomes": {}}
    for name, column in OUTCOMES.items():
        rows = fit_rows[fit_rows[column].notna()].assign(label=lambda f: f[column].astype(int))
        model = fit_model(rows[~later.loc[rows.index]], rows[later.loc[rows.index]], features, options, options.seed,
                          f"oulad:{column}")
        baseline = fit_baseline(rows[~later.loc[rows.index]], features)
        per_day = {}
        for day in days:
            part = test_rows[(test_rows["day"] == day) & test_rows[column].notna()]
            if part.empty:
                continue
            y = part[column].astype(int).to_numpy()
            p = model.predict(part)
            b = baseline.predict_proba(part[features].to_numpy(dtype=float))[:, 1]
            per_day[day] = {"students": int(len(part)), "withdrew": int(y.sum()),
                            "auc": _with_ci(auc, y, p, boot, options.seed),
                            "brier": _with_ci(brier, y, p, boot, options.seed),
                            "ece": _with_ci(ece, y, p, boot, options.seed),
                            "baseline_logistic_auc": _with_ci(auc, y, b, boot, options.seed),
                            "baseline_logistic_brier": round(brier(y, b), 4)}
        report["outcomes"][name] = per_day
    for day, result in report["outcomes"]["later"].items():
        report[f"auc_day{day}"] = result["auc"]["value"]
    return report
