"""Nudges: rules in YAML, ranked and capped per learner, with a stable holdout and a state that
carries caps, cooldowns and suppression from one run date to the next."""
