"""Nudge rules: a YAML list, checked against the features a run computes before any run starts.

Each rule::

    - id: comeback-high-risk          # unique; the nudge's ``source``
      type: comeback                  # what it is, for caps, uplift and effects
      channel: push                   # push | email | in_app
      when: "risk_band == 'high' and days_since_last_activity >= 3"
      title: "Your {course_id} streak misses you"
      body: "It has been {days_since_last_activity:.0f} days. A 5-minute lesson keeps it going."
      action: "app://course/{course_id}/next"
      reason: "no activity for {days_since_last_activity:.0f} days; dropout risk {risk_probability:.0%}"
      prior: 0.05                     # expected uplift in 7-day return before effects are measured
      expires_hours: 48

``when`` is a Python-style expression over feature names (comparisons, ``and``/``or``/``not``,
arithmetic, string and number constants); the texts are format strings whose fields are feature
names. A rule that names anything else is a ``NudgeRuleError`` naming the rule.
"""

from __future__ import annotations

import ast
import string
from dataclasses import dataclass
from pathlib import Path

import yaml

from features.errors import EngageError

CHANNELS = ("push", "email", "in_app")
TEXTS = ("title", "body", "action", "reason")
_ALLOWED = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.Compare, ast.Eq,
            ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Name,
            ast.Load, ast.Constant)


class NudgeRuleError(EngageError):
    """A rules file that cannot be used; the message names the file, the rule and the field."""


@dataclass(frozen=True)
class NudgeRule:
    """One rule (see the module docstring)."""

    id: str
    type: str
    channel: str
    when: str
    title: str
    body: str
    action: str
    reason: str
    prior: float
    expires_hours: float

    def fields(self) -> set[str]:
        """Return every feature name the rule reads (condition and texts)."""
        names = {n.id for n in ast.walk(ast.parse(self.when, mode="eval")) if isinstance(n, ast.Name)}
        for text in (getattr(self, t) for t in TEXTS):
            names |= {f.split(".")[0].split("[")[0] for _, f, _, _ in string.Formatter().parse(text) if f}
        return names


def load_rules(path: str | Path, features: set[str]) -> list[NudgeRule]:
    """Read and check a rules file against the ``features`` a run computes.

    Raises:
        NudgeRuleError: unreadable YAML, a missing or unknown key, a duplicate id, an unknown
            channel, a condition that is not a plain expression, or a feature name (in the
            condition or a text) that no run computes.
    """
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise NudgeRuleError(f"{path}: cannot read nudge rules: {str(exc).splitlines()[0]}") from None
    if not isinstance(doc, list):
        raise NudgeRuleError(f"{path}: expected a list of rules")
    rules, seen = [], set()
    keys = set(NudgeRule.__dataclass_fields__)
    for i, raw in enumerate(doc):
        name = raw.get("id", f"#{i + 1}") if isinstance(raw, dict) else f"#{i + 1}"
        where = f"{path}: rule {name!r}"
        if not isinstance(raw, dict):
            raise NudgeRuleError(f"{where}: expected a mapping")
        if set(raw) - keys or keys - set(raw):
            raise NudgeRuleError(f"{where}: unknown keys {sorted(set(raw) - keys)}; missing {sorted(keys - set(raw))}")
        if name in seen:
            raise NudgeRuleError(f"{where}: duplicate id")
        seen.add(name)
        if raw["channel"] not in CHANNELS:
            raise NudgeRuleError(f"{where}: channel {raw['channel']!r} is not one of {list(CHANNELS)}")
        try:
            rule = NudgeRule(**{k: raw[k] for k in keys if k not in ("prior", "expires_hours")},
                             prior=float(raw["prior"]), expires_hours=float(raw["expires_hours"]))
            tree = ast.parse(rule.when, mode="eval")
            for text in TEXTS:
                list(string.Formatter().parse(getattr(rule, text)))
        except (SyntaxError, ValueError, TypeError) as exc:
            raise NudgeRuleError(f"{where}: {exc}") from None
        bad = sorted({type(n).__name__ for n in ast.walk(tree) if not isinstance(n, _ALLOWED)})
        if bad:
            raise NudgeRuleError(f"{where}: when: not allowed in a condition: {', '.join(bad)}")
        unknown = sorted(rule.fields() - features)
        if unknown:
            raise NudgeRuleError(f"{where}: unknown feature or template field(s) {unknown}")
        rules.append(rule)
    return rules
