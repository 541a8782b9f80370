"""The ``nudges`` config section."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from annotated_types import Ge, Gt, Le, Lt


@dataclass(frozen=True)
class NudgeOptions:
    """Where the rules are, and the limits every run applies.

    Per learner and run at most ``max_per_learner`` nudges; over any 7 days at most
    ``max_per_learner_per_week`` in all and ``max_per_type_per_week`` of one type; a type is not
    sent again within ``cooldown_hours`` of the last one. A nudge not opened (a ``nudge_opened``
    event naming its type) within ``ignore_after_hours`` counts as ignored; after
    ``suppress_after_ignored`` ignored in a row the type is suppressed for that learner until one
    is opened. A learner with an event of ``opt_out_event_types`` (and no later one of
    ``opt_in_event_types``) gets none, as does one whose learner attribute ``opt_out_attribute``
    (``inputs.attributes``) is true (``true``, ``yes``, ``y`` or ``1``). Nothing is sent between ``quiet_start_hour`` and
    ``quiet_end_hour`` local time (``send_after`` moves to the end of the quiet hours; UTC when
    the learner's offset is unknown). ``holdout_share`` of learners, chosen by a salted hash of
    the learner id, get none and are the comparison group.
    """

    rules: str | None = None  # the rules YAML; None: no nudges
    max_per_learner: Annotated[int, Ge(0)] = 3
    max_per_learner_per_week: Annotated[int, Ge(0)] = 5
    max_per_type_per_week: Annotated[int, Ge(0)] = 2
    cooldown_hours: Annotated[float, Ge(0)] = 48.0
    ignore_after_hours: Annotated[float, Gt(0)] = 48.0
    suppress_after_ignored: Annotated[int, Ge(1)] = 3
    opt_out_event_types: tuple[str, ...] = ("nudge_opt_out",)
    opt_in_event_types: tuple[str, ...] = ("nudge_opt_in",)
    opt_out_attribute: str | None = None  # a learner attribute column; None: opt-outs come from events only
    quiet_start_hour: Annotated[int, Ge(0), Le(23)] = 21
    quiet_end_hour: Annotated[int, Ge(0), Le(23)] = 8
    holdout_share: Annotated[float, Ge(0), Lt(1)] = 0.1
    holdout_salt: str = "engage-holdout-1"
    effect_window_days: Annotated[int, Ge(1)] = 7
