"""The one error type users see.

Library code raises :class:`ThresherError` for anything the user can fix (bad names, bad
options, missing prerequisites). The CLI turns it into a one-line message and exit code 2;
every other exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class ThresherError(Exception):
    """A problem with the user's input or workspace, reported as one line, exit code 2."""

    exit_code = 2


class ConfigError(ThresherError):
    """A request whose config is invalid; ``field`` names the offending field when it is known (the
    service answers 422 with it)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(ThresherError):
    """What the request names does not exist (a job, a subset, a run): 404 over HTTP."""


class Conflict(ThresherError):
    """The request cannot be done in the current state (cancel a finished job): 409 over HTTP."""
