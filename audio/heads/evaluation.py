"""Fit heads and evaluate them on speakers never seen in training (speaker-grouped folds)."""

from __future__ import annotations

import pandas as pd

from audio.heads.model import Head, prepare
from features.stats import bootstrap_ci, pearson, uar


def emotion_model():
    """Return the emotion classifier: scaled logistic regression, balanced classes."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=5000, class_weight="balanced"))


def fluency_model():
    """Return the fluency regressor: gradient-boosted trees on descriptors."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(max_iter=200, learning_rate=0.05, max_depth=3, random_state=0)


def evaluate_emotion(train: pd.DataFrame, test: pd.DataFrame | None, features: list[str],
                     standardise: bool = True, folds: int | None = None) -> dict:
    """Evaluate the emotion head on unseen speakers; return UAR, its interval, confusion.

    With ``test`` None, leave-one-speaker-out (or ``folds`` speaker-grouped folds) inside
    ``train``. Frames need columns ``speaker``, ``label`` and the feature columns.
    """
    from sklearn.metrics import confusion_matrix
    from sklearn.model_selection import GroupKFold, LeaveOneGroupOut, cross_val_predict

    if test is None:
        X = prepare(train[features], train["speaker"] if standardise else None)
        cv = GroupKFold(folds) if folds else LeaveOneGroupOut()
        pred = cross_val_predict(emotion_model(), X, train["label"].astype(str), groups=train["speaker"].astype(str), cv=cv)
        truth = train["label"].astype(str).to_numpy()
    else:
        model = emotion_model().fit(prepare(train[features], train["speaker"] if standardise else None), train["label"].astype(str))
        pred = model.predict(prepare(test[features], test["speaker"] if standardise else None))
        truth = test["label"].astype(str).to_numpy()
    labels = sorted(set(truth))
    lo, hi = bootstrap_ci(uar, truth, pred)
    return {"uar": uar(truth, pred), "uar_ci95_low": lo, "uar_ci95_high": hi, "labels": labels,
            "n": len(truth), "speaker_standardised": standardise,
            "confusion": confusion_matrix(truth, pred, labels=labels).tolist()}


def evaluate_fluency(train: pd.DataFrame, test: pd.DataFrame | None, features: list[str],
                     folds: int = 5, sub_scores: dict[str, str] | None = None) -> dict:
    """Evaluate the fluency head on unseen speakers; return Pearson r with its interval, and
    each sub-score's correlation with the expert ``fluency``, ``prosodic`` and ``total``."""
    from sklearn.model_selection import GroupKFold, cross_val_predict

    if test is None:
        pred = cross_val_predict(fluency_model(), prepare(train[features]), train["fluency"].astype(float),
                                 groups=train["speaker"].astype(str), cv=GroupKFold(folds))
        frame = train
    else:
        model = fluency_model().fit(prepare(train[features]), train["fluency"].astype(float))
        pred = model.predict(prepare(test[features]))
        frame = test
    truth = frame["fluency"].astype(float).to_numpy()
    lo, hi = bootstrap_ci(pearson, truth, pred)
    result = {"r": pearson(truth, pred), "r_ci95_low": lo, "r_ci95_high": hi, "n": len(truth)}
    for name, column in (sub_scores or {}).items():
        values = frame[column].astype(float)
        ok = values.notna().to_numpy()
        for target in ("fluency", "prosodic", "total"):
            if target in frame:
                result[f"{name}_vs_{target}_r"] = pearson(values[ok], frame[target].astype(float)[ok])
    return result


def fit_head(kind: str, frame: pd.DataFrame, features: list[str], descriptor_version: str,
             metrics: dict, standardise: bool = True) -> Head:
    """Fit the emotion or fluency head on all of ``frame`` and attach its evaluation metrics."""
    if kind == "emotion":
        model = emotion_model().fit(prepare(frame[features], frame["speaker"] if standardise else None),
                                    frame["label"].astype(str))
        return Head("emotion", model, features, sorted(frame["label"].astype(str).unique()), standardise,
                    descriptor_version, metrics)
    model = fluency_model().fit(prepare(frame[features]), frame["fluency"].astype(float))
    return Head("fluency", model, features, [], False, descriptor_version, metrics)
