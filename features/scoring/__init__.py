"""The engagement score per learner x course x phase: components, the scoring reference that
keeps their scale fixed, and the score itself (docs/scores.md)."""
