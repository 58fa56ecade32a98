"""Domain errors: what went wrong, as data (a code, a title, and issues with field paths).

Services raise these; the API renders them as problem+json (api/errors.py) and the pages put
each issue beside its field. Nobody parses the English text back: callers branch on `code`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Issue:
    """One problem at one place: `path` names the field (dotted; `file:line:col: path` for
    policy files), `code` is stable for programs, `message` is for people."""

    path: str
    message: str
    code: str = "invalid"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The problem+json `errors[]` form."""
        return {"path": self.path, "message": self.message, "code": self.code, **self.extra}


class DomainError(Exception):
    """Base of the errors a service raises; `status` is the HTTP status it maps to."""

    status = 400
    code = "error"

    def __init__(self, title: str, detail: str = "", issues: list[Issue] | None = None) -> None:
        super().__init__(detail or title)
        self.title, self.detail, self.issues = title, detail, list(issues or [])

    def errors_json(self) -> list[dict[str, Any]]:
        """The problem+json `errors[]` of this error."""
        return [i.to_json() for i in self.issues]


# a refusal's code -> HTTP status and title (errors raised by code rather than by class)
CODE_STATUS: dict[str, tuple[int, str]] = {
    "not_found": (404, "Not found"),
    "forbidden": (403, "Forbidden"),
    "conflict": (409, "Conflict"),
    "invalid": (422, "Invalid request"),
    "unavailable": (503, "Temporal unavailable"),
}
UNKNOWN_CODE = (500, "Internal error")


class Invalid(DomainError):
    """The input breaks the contract (422)."""

    status, code = 422, "invalid"


class NotFound(DomainError):
    """The object does not exist (404)."""

    status, code = 404, "not_found"


class Conflict(DomainError):
    """The request contradicts the stored state (409)."""

    status, code = 409, "conflict"


class TooLarge(DomainError):
    """The request carries more than allowed (413)."""

    status, code = 413, "too_large"


class Unavailable(DomainError):
    """A service the operation needs (Temporal) does not answer; nothing was done (503)."""

    status, code = 503, "unavailable"


def no_active_policy() -> Conflict:
    """The error of every operation that needs an active policy version."""
    return Conflict("No active policy", "activate a policy version first")
