"""The one base of every error engage raises on purpose.

The CLI turns any ``EngageError`` into exit code 2 and its one-line message; anything else is
a bug and keeps its traceback. Each module defines its own subclasses beside the code that
raises them (``ConfigError``, ``CurriculumError``, ``DecodeError``, ...).
"""

from __future__ import annotations


class EngageError(Exception):
    """An input, config or model problem a user can fix; the message names the file, key or
    record and the problem, on one line."""
