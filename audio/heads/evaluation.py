"""Fit heads and evaluate them on speakers never seen in training (speaker-grouped folds)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from audio.heads.model import Head, prepare
from features.stats import bootstrap_ci, pearson, uar


def emotion_model():
    """Return the emotion classifier: scaled logistic regression, balanced classes."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=5000, class_weight="balanced"))


# What the fluency head tunes, always by speaker-grouped folds inside the data it is fitted on.
FLUENCY_GRID = {"max_depth": [2, 3], "learning_rate": [0.05, 0.1]}


def fit_fluency(frame: pd.DataFrame, features: list[str]):
    """Return gradient-boosted trees (200) fitted on ``frame`` (``speaker``, ``fluency`` and the
    features), with depth and learning rate chosen from ``FLUENCY_GRID`` by 3 speaker-grouped
    folds of ``frame`` alone (``best_params_`` says which)."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.model_selection import GridSearchCV, GroupKFold

    search = GridSearchCV(HistGradientBoostingRegressor(max_iter=200, random_state=0), FLUENCY_GRID, cv=GroupKFold(3))
    return search.fit(prepare(frame[features]), frame["fluency"].astype(float), groups=frame["speaker"].astype(str))


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
    """Evaluate the fluency head on unseen speakers; return Pearson r with its interval, the
    same for the stratified clips alone (``selection`` starting with ``stratified``) when the
    corpus says which, and each sub-score's correlation with the expert ``fluency``,
    ``prosodic`` and ``total``.

    With ``test`` None: ``folds`` speaker-grouped folds of ``train``, each fold's model tuned
    inside its own training speakers (nested), with each fold's r. Else tuned and fitted on
    ``train``, scored on ``test``."""
    from sklearn.model_selection import GroupKFold

    result = {}
    if test is None:
        frame = train
        pred = np.full(len(frame), np.nan)
        fold_r = []
        for fit_idx, held_idx in GroupKFold(folds).split(frame, groups=frame["speaker"].astype(str)):
            model = fit_fluency(frame.iloc[fit_idx], features)
            pred[held_idx] = model.predict(prepare(frame.iloc[held_idx][features]))
            fold_r.append(pearson(frame["fluency"].iloc[held_idx].astype(float), pred[held_idx]))
        result.update({"fold_r": [round(r, 4) for r in fold_r], "fold_r_min": min(fold_r),
                       "fold_r_max": max(fold_r), "fold_r_sd": float(np.std(fold_r))})
    else:
        model = fit_fluency(train, features)
        pred = model.predict(prepare(test[features]))
        frame = test
        result["chosen"] = model.best_params_
    truth = frame["fluency"].astype(float).to_numpy()
    lo, hi = bootstrap_ci(pearson, truth, pred)
    result = {"r": pearson(truth, pred), "r_ci95_low": lo, "r_ci95_high": hi, "n": len(truth), **result}
    if "selection" in frame:
        strat = frame["selection"].str.startswith("stratified").to_numpy()
        if strat.sum() >= 3:
            lo, hi = bootstrap_ci(pearson, truth[strat], pred[strat])
            result.update({"stratified_r": pearson(truth[strat], pred[strat]), "stratified_r_ci95_low": lo,
                           "stratified_r_ci95_high": hi, "stratified_n": int(strat.sum())})
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
    search = fit_fluency(frame, features)
    return Head("fluency", search.best_estimator_, features, [], False, descriptor_version,
                {**metrics, "chosen": search.best_params_})
