"""The dropout-risk model: gradient boosting calibrated on a later slice, trained in time order.

Snapshot days are split in time: training, then calibration, then evaluation, with ``horizon``
days between slices so that no training label window reaches into the calibration slice and no
calibration window into the evaluation slice. Trees are fitted on the training slice; the
calibration (Platt scaling of the trees' log-odds, or isotonic) and the decision threshold (best
MCC) on the calibration slice; metrics on the evaluation slice, overall and per snapshot week,
with each metric's spread over bootstrap refits (training learners resampled). A
logistic-regression baseline is trained on the same slice and reported beside it.

Drivers are exact Shapley values of the trees' log-odds, before calibration: path-dependent
TreeSHAP, the values ``shap.TreeExplainer`` gives, computed by ``features.risk.treeshap``. Platt
scaling is a monotone affine map of those log-odds, so the drivers' order and signs hold for the
calibrated probability too.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.errors import EngageError
from features.risk.evaluation import METRIC_NAMES, best_threshold, by_week, metrics, reliability
from features.risk.options import RiskOptions

MODEL_FORMAT = 1
RISK_KIND = "risk-model"
BANDS = ("low", "medium", "high")


class RiskDataError(EngageError):
    """Snapshots that cannot train a model (too few labels or positives in a slice)."""


class RiskModelError(EngageError):
    """A risk model file that cannot be used, or features that do not match it."""


@dataclass
class RiskModel:
    """A trained model and what scoring needs of it."""

    gbm: object
    calibrator: object
    features: list[str]
    threshold: float  # calibrated probability from which the band is high (best MCC on calibration)
    base_rate: float  # positives' share on the calibration slice: medium from here
    horizon_days: int
    label_source: str
    coverage: dict = field(default_factory=dict)  # share of training rows with a value, per feature
    metrics: dict = field(default_factory=dict)
    format: int = MODEL_FORMAT

    def check_features(self, X: pd.DataFrame, min_rows: int = 20) -> None:
        """Raise ``RiskModelError`` naming each feature the model needs that ``X`` lacks, or
        that has no value in any of ``X``'s rows (at least ``min_rows``) while most training
        rows had one: the trees would treat it as missing everywhere and the probability
        would be quietly wrong."""
        missing = [f for f in self.features if f not in X.columns]
        if len(X) >= min_rows:
            missing += [f"{f} (no values; {self.coverage[f]:.0%} of training rows had one)" for f in self.features
                        if f in X.columns and self.coverage.get(f, 0) >= 0.5 and X[f].isna().all()]
        if missing:
            raise RiskModelError(f"features missing at scoring time: {', '.join(missing)}")

    def log_odds(self, X: pd.DataFrame) -> np.ndarray:
        """The trees' raw log-odds for rows of ``X`` (columns ``features``)."""
        return self.gbm.decision_function(X[self.features].to_numpy(dtype=float))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities of leaving within the horizon.

        Raises:
            RiskModelError: a feature the model needs is missing from ``X`` (see ``check_features``).
        """
        self.check_features(X)
        return calibrated(self.calibrator, self.log_odds(X))

    def band(self, probabilities: np.ndarray) -> np.ndarray:
        """``high`` from the threshold, ``medium`` from the base rate, else ``low``."""
        return np.select([probabilities >= self.threshold, probabilities >= self.base_rate], ["high", "medium"], "low")

    def drivers(self, X: pd.DataFrame, top: int = 3) -> list[str]:
        """Return, per row, a JSON list of up to ``top`` features that push this learner's risk
        up most: feature, value and exact Shapley contribution (TreeSHAP) to the trees' log-odds
        relative to the average learner."""
        import pyarrow as pa
        import pyarrow.compute as pc

        from features.risk.treeshap import shapley_values

        values = X[self.features].to_numpy(dtype=float)
        if len(values) == 0:
            return []
        contributions = shapley_values(self.gbm, values)
        best = np.argsort(-contributions, axis=1)[:, :top]
        rows = np.arange(len(values))
        names = np.array([json.dumps(f) for f in self.features], dtype=object)
        # the k-th driver's JSON object, or "" where its contribution is not positive (those come
        # last, as the drivers are sorted); JSON numbers as Arrow writes them
        entries = []
        for k in range(best.shape[1]):
            value = pa.array(np.round(values[rows, best[:, k]], 4), from_pandas=True)
            contribution = contributions[rows, best[:, k]]
            text = pc.binary_join_element_wise(
                ", " if k else "", '{"feature": ', pa.array(names[best[:, k]], pa.string()), ', "value": ',
                pc.fill_null(pc.cast(value, pa.string()), "null"), ', "contribution": ',
                pc.cast(pa.array(np.round(contribution, 4)), pa.string()), "}", "")
            entries.append(pc.if_else(pa.array(contribution > 0), text, ""))
        return pc.binary_join_element_wise("[", *entries, "]", "").to_pylist()


def calibrated(calibrator, log_odds: np.ndarray) -> np.ndarray:
    """Apply a fitted calibrator (Platt logistic regression or isotonic) to log-odds."""
    if hasattr(calibrator, "predict_proba"):
        return calibrator.predict_proba(log_odds.reshape(-1, 1))[:, 1]
    return np.clip(calibrator.predict(log_odds), 0.0, 1.0)


def time_slices(days: list, options: RiskOptions) -> tuple[list, list, list]:
    """Return (training, calibration, evaluation) snapshot days, cut in time: evaluation is the
    last ``evaluation_share`` of the days' span, calibration the ``calibration_share`` before it,
    training the rest, with ``horizon_days`` left out before each later slice."""
    import datetime as dt

    days = sorted(days)
    if not days:
        return [], [], []
    span = (days[-1] - days[0]).days
    gap = dt.timedelta(days=options.horizon_days)
    eval_start = days[-1] - dt.timedelta(days=round(span * options.evaluation_share))
    cal_end = eval_start - gap
    cal_start = cal_end - dt.timedelta(days=round(span * options.calibration_share))
    return ([d for d in days if d <= cal_start - gap], [d for d in days if cal_start <= d <= cal_end],
            [d for d in days if d >= eval_start])


def _gbm(options: RiskOptions, seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_depth=options.max_depth, max_iter=options.max_iter,
                                          learning_rate=options.learning_rate,
                                          l2_regularization=1.0, early_stopping=False, random_state=seed)


def _calibrator(kind: str, log_odds: np.ndarray, labels: np.ndarray):
    if kind == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        return IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(log_odds, labels)
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1e6).fit(log_odds.reshape(-1, 1), labels)


def fit_baseline(train: pd.DataFrame, features: list[str]):
    """Return the logistic-regression baseline (median-imputed, standardised) fitted on ``train``."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler(),
                         LogisticRegression(max_iter=2000)).fit(train[features].to_numpy(dtype=float), train["label"])


def fit_model(train: pd.DataFrame, cal: pd.DataFrame, features: list[str], options: RiskOptions, seed: int,
              label_source: str) -> RiskModel:
    """Fit the trees on ``train``, then the calibrator, the high band's threshold (best MCC) and
    the medium band's floor (the positives' share) on ``cal``; both frames hold ``features`` and
    ``label``."""
    gbm = _gbm(options, seed).fit(train[features].to_numpy(dtype=float), train["label"].to_numpy(dtype=int))
    model = RiskModel(gbm, None, list(features), 0.5, 0.0, options.horizon_days, label_source,
                      coverage={f: round(float(train[f].notna().mean()), 4) for f in features})
    model.calibrator = _calibrator(options.calibration, model.log_odds(cal), cal["label"].to_numpy(dtype=int))
    probabilities = model.predict(cal)
    model.threshold, model.base_rate = best_threshold(cal["label"], probabilities), float(cal["label"].mean())
    return model


def train_risk_model(frame: pd.DataFrame, features: list[str], options: RiskOptions) -> tuple[RiskModel, dict]:
    """Train and evaluate on labelled snapshot rows (``snapshot``, ``user_id``, ``label``,
    ``label_source`` and the ``features``); return (the model, its report: metrics per slice and
    week, bootstrap spread, baseline, reliability, gates).

    Raises:
        RiskDataError: fewer than ``options.min_positives`` positives (or no negative) in a slice.
    """
    frame = frame[frame["label"].notna()].copy()
    frame["label"] = frame["label"].astype(int)
    training, calibration, evaluation = time_slices(sorted(frame["snapshot"].unique()), options)
    parts = {name: frame[frame["snapshot"].isin(days)] for name, days in
             (("training", training), ("calibration", calibration), ("evaluation", evaluation))}
    for name, part in parts.items():
        positives = int(part["label"].sum())
        if positives < options.min_positives or positives == len(part):
            raise RiskDataError(f"too few labelled snapshots to train on: the {name} slice has {len(part)} rows and "
                                f"{positives} positives (at least {options.min_positives} of each class needed; "
                                f"{len(frame)} labelled rows over {frame['snapshot'].nunique()} snapshot days)")
    train, cal, test = parts["training"], parts["calibration"], parts["evaluation"]
    # a feature the platform never produced (voice with audio off) cannot split a tree
    unused = [f for f in features if train[f].isna().all()]
    features = [f for f in features if f not in unused]
    source = str(frame["label_source"].iloc[0])
    model = fit_model(train, cal, features, options, options.seed, source)
    cal_p, test_p = model.predict(cal), model.predict(test)
    rng = np.random.default_rng(options.seed)
    learners = train["user_id"].unique()
    refits = []
    for k in range(options.refits):
        chosen = pd.DataFrame({"user_id": rng.choice(learners, len(learners), replace=True)})
        refit = fit_model(train.merge(chosen, on="user_id"), cal, features, options, options.seed + k + 1, source)
        p = refit.predict(test)
        refits.append((metrics(test["label"], p, refit.threshold), by_week(test.assign(probability=p), refit.threshold)))
    weeks = by_week(test.assign(probability=test_p), model.threshold)
    for i, week in enumerate(weeks):
        week.update({f"{m}_spread": _spread([r[1][i][m] for r in refits]) for m in METRIC_NAMES})
    baseline = fit_baseline(train, features)
    base_p = baseline.predict_proba(test[features].to_numpy(dtype=float))[:, 1]
    report = {
        "slices": {name: {"days": [str(min(part["snapshot"])), str(max(part["snapshot"]))], "rows": len(part),
                          "positives": int(part["label"].sum())} for name, part in parts.items()},
        "threshold": model.threshold, "base_rate": model.base_rate, "calibration": options.calibration,
        "evaluation": metrics(test["label"], test_p, model.threshold),
        "calibration_slice": metrics(cal["label"], cal_p, model.threshold),
        "by_week": weeks, "refits": [r[0] for r in refits],
        "spread": {m: _spread([r[0][m] for r in refits]) for m in METRIC_NAMES},
        "baseline_logistic": metrics(test["label"], base_p, best_threshold(cal["label"], baseline.predict_proba(
            cal[features].to_numpy(dtype=float))[:, 1])),
        "reliability": reliability(test["label"], test_p),
        "horizon_days": options.horizon_days, "label_source": model.label_source, "features": list(features),
        "unused_features": unused,
    }
    report["auc_spread"] = report["spread"]["auc"]
    report["gates"] = {"min_auc": options.min_auc, "max_spread": options.max_spread,
                       "passed": bool(report["evaluation"]["auc"] >= options.min_auc
                                      and report["auc_spread"] <= options.max_spread)}
    model.metrics = report
    return model, report


def _spread(values: list[float]) -> float:
    """Standard deviation over the refits (NaN-aware: a week may lack a class)."""
    values = [v for v in values if not np.isnan(v)]
    return float(np.std(values)) if values else float("nan")


def model_bytes(model: RiskModel) -> bytes:
    """Return the model as joblib bytes (the registry file)."""
    import joblib

    sink = io.BytesIO()
    joblib.dump(model, sink)
    return sink.getvalue()


def read_model(path) -> RiskModel:
    """Load a model file saved by ``model_bytes``.

    Raises:
        RiskModelError: not readable, not an engage risk model, or of another format.
    """
    import joblib

    try:
        model = joblib.load(path)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not a model file"
        raise RiskModelError(f"{path}: not a readable risk model ({type(exc).__name__})") from None
    if not isinstance(model, RiskModel) or model.format != MODEL_FORMAT:
        raise RiskModelError(f"{path}: not an engage risk model of format {MODEL_FORMAT}")
    return model


def save_model(registry, model: RiskModel, data_window: dict, data_through: str | None = None):
    """Save the model with its report as metadata in the registry, promoted to ``current`` only
    when it passed its quality gates; return the registry entry (``metadata["promoted"]``).
    ``data_through``: the as_of of the history it was trained on (labels look that far)."""
    report = model.metrics
    passed = bool(report["gates"]["passed"])
    return registry.save(RISK_KIND, {"model.joblib": model_bytes(model)},
                         {"metrics": report, "features": model.features, "horizon_days": model.horizon_days,
                          "label_source": model.label_source, "data_window": data_window, "promoted": passed,
                          "data_through": data_through},
                         promote=passed)
