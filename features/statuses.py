"""Status values written to the tables: one enum per status column, its detail in another.

Values are strings (``StrEnum``) so they land in Parquet and SQL as plain text.
"""

from __future__ import annotations

from enum import StrEnum


class RecordStatus(StrEnum):
    """What ingest made of one input line."""

    VALID = "valid"
    QUARANTINED = "quarantined"
    BLANK = "blank"  # counted, not a record


class QuarantineReason(StrEnum):
    """Why an input record was quarantined (``quarantine.reason``)."""

    INVALID_JSON = "invalid_json"
    INVALID_UTF8 = "invalid_utf8"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    BAD_TIMESTAMP = "bad_timestamp"
    OUT_OF_RANGE = "out_of_range"
    CONFLICTING_DUPLICATE = "conflicting_duplicate"
    ARRAY_SYNTAX_ERROR = "array_syntax_error"  # the rest of a JSON array after its syntax broke off
    GZIP_ERROR = "gzip_error"  # the rest of a .gz after its stream broke off
    UNREADABLE_FILE = "unreadable_file"  # a whole file that cannot be read (e.g. .gz that is not gzip)


class Mapping(StrEnum):
    """How an event was placed in the curriculum (``responses.mapping``)."""

    MILESTONE_ID = "milestone_id"
    LESSON_ID = "lesson_id"
    UNMAPPED = "unmapped"


class SessionSource(StrEnum):
    """Where a session id came from (``sessions.session_source``)."""

    TELEMETRY = "telemetry"
    INACTIVITY_GAP = "inactivity_gap"


class AudioStatus(StrEnum):
    """Exactly one per response (``responses.audio_status``; why in ``audio_detail``)."""

    OK = "ok"
    NO_AUDIO = "no_audio"
    REFUSED = "refused"
    MISSING = "missing"
    FETCH_FAILED = "fetch_failed"
    CORRUPT = "corrupt"
    SILENT = "silent"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    NOISY = "noisy"


class EmotionStatus(StrEnum):
    """Whether a response's emotion was classified (``responses.emotion_status``; the reason a
    model was unavailable in ``emotion_detail``)."""

    OK = "ok"
    NO_AUDIO = "no_audio"
    LANGUAGE_NOT_COVERED = "language_not_covered"
    NO_MODEL = "no_model"
    UNAVAILABLE = "unavailable"


class AlignmentStatus(StrEnum):
    """Whether a response's audio was aligned to its prompt text (``responses.alignment_status``;
    why not in ``alignment_detail``)."""

    OK = "ok"
    NO_TEXT = "no_text"  # the curriculum gives no prompt text for the response's prompt
    NOT_ALIGNED = "not_aligned"  # a word outside the dictionary, or audio the words do not fit
    NO_AUDIO = "no_audio"  # no analysable audio (see audio_status)


class RiskStatus(StrEnum):
    """Whether a learner x course got a dropout-risk probability (``learners.risk_status``; why
    not in ``risk_detail``)."""

    SCORED = "scored"
    NOT_ELIGIBLE = "not_eligible"  # no learner-initiated activity in the window, withdrawn or finished
    NO_MODEL = "no_model"  # no promoted risk model in the registry yet (engage train-risk)
    MODEL_UNUSABLE = "model_unusable"  # the model file or this run's features do not fit it
