"""Trainable heads on utterance descriptors: emotion classification and fluency regression.

Pure scikit-learn on DataFrames. Evaluation is speaker-independent: folds are grouped by
speaker, so no speaker is in both training and test data. Emotion features may be standardised
per speaker with that speaker's own (unlabelled) audio, as the pipeline can with a learner's
history.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

HEAD_FORMAT = 1


@dataclass
class Head:
    """A fitted head: what it predicts, from which descriptor columns, and how it was judged."""

    kind: str  # "emotion" | "fluency"
    model: object
    features: list[str]
    labels: list[str] = field(default_factory=list)
    speaker_standardised: bool = False
    descriptor_version: str = ""
    metrics: dict = field(default_factory=dict)
    ssl_model: str | None = None  # inputs include its pooled embeddings (columns ssl_*)

    def predict(self, descriptors: pd.DataFrame, speakers=None) -> np.ndarray:
        """Return labels (emotion) or scores (fluency) for rows of descriptors; a descriptor
        the head needs but the frame lacks (e.g. prompt features) counts as unknown."""
        frame = descriptors.reindex(columns=self.features)
        X = prepare(frame, speakers if self.speaker_standardised else None)
        return self.model.predict(X)

    def save(self, folder: str | Path) -> Path:
        """Write ``<kind>-head-v<format>.joblib`` and its metrics JSON into ``folder``."""
        import joblib

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.kind}-head-v{HEAD_FORMAT}.joblib"
        joblib.dump(self, path)
        (folder / f"{self.kind}-head-v{HEAD_FORMAT}.metrics.json").write_text(json.dumps(self.metrics, indent=2))
        return path


def load_head(path: str | Path) -> Head:
    """Load a head saved by ``Head.save``; raises ValueError for a file of another format."""
    import joblib

    head = joblib.load(path)
    if not isinstance(head, Head):
        raise ValueError(f"{path}: not an engage head file")
    return head


def prepare(X: pd.DataFrame, speakers=None) -> pd.DataFrame:
    """Fill undefined values with column medians; standardise within speaker when given."""
    X = X.astype(float)
    X = X.fillna(X.median()).fillna(0.0)
    if speakers is not None:
        groups = np.asarray(speakers, dtype=str)
        X = X.groupby(groups).transform(lambda c: (c - c.mean()) / (c.std(ddof=0) + 1e-9))
    return X


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


def bootstrap_ci(stat, *arrays, n: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Return the 95% percentile bootstrap interval of ``stat(*arrays)`` over resampled rows."""
    rng = np.random.default_rng(seed)
    size = len(arrays[0])
    values = []
    for _ in range(n):
        idx = rng.integers(0, size, size)
        values.append(stat(*(np.asarray(a)[idx] for a in arrays)))
    lo, hi = np.nanpercentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def uar(y_true, y_pred) -> float:
    """Unweighted average recall (mean of per-class recalls)."""
    from sklearn.metrics import balanced_accuracy_score

    return float(balanced_accuracy_score(y_true, y_pred))


def pearson(a, b) -> float:
    """Pearson correlation of two arrays."""
    return float(np.corrcoef(np.asarray(a, float), np.asarray(b, float))[0, 1])


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
    return {"uar": uar(truth, pred), "uar_ci95": [lo, hi], "labels": labels, "n": len(truth),
            "speaker_standardised": standardise,
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
    result = {"r": pearson(truth, pred), "r_ci95": [lo, hi], "n": len(truth)}
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


def apply_heads(descriptors: pd.DataFrame, learners, fluency: Head | None, emotion: Head | None) -> pd.DataFrame:
    """Return ``fluency_score`` (the expert scale the head was trained on) and
    ``head_emotion_label``/``head_emotion_confidence`` per row (null without that head).
    Emotion features are standardised per learner, as in training per speaker."""
    out = pd.DataFrame(index=descriptors.index)
    out["fluency_score"] = fluency.predict(descriptors) if fluency is not None and len(descriptors) else np.nan
    if emotion is not None and len(descriptors):
        X = prepare(descriptors.reindex(columns=emotion.features), learners if emotion.speaker_standardised else None)
        proba = emotion.model.predict_proba(X)
        classes = np.asarray(emotion.model.classes_)
        out["head_emotion_label"] = classes[proba.argmax(axis=1)]
        out["head_emotion_confidence"] = proba.max(axis=1)
    else:
        out["head_emotion_label"], out["head_emotion_confidence"] = None, np.nan
    return out
