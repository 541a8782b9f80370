"""Dropout risk: snapshots and labels, leakage-free features, a calibrated gradient-boosting
model with a stated horizon, its evaluation and quality gates, and per-learner drivers."""
