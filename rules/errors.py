"""Error types of the rules package: policy issues located by file:line:col, record issues.

Policy owners fix their YAML from these messages, so every issue carries the file, the
1-based line and column, the dotted path inside the document and a did-you-mean hint where
a name was probably misspelt.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class PolicyIssue:
    """One problem in a policy bundle, printed as ``file:line:col: path: message``."""

    file: str
    line: int
    col: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}:{self.col}: {where}{self.message}"


class PolicyError(Exception):
    """A bundle did not load; ``issues`` holds every problem found, sorted."""

    def __init__(self, issues: Iterable[PolicyIssue]) -> None:
        self.issues: list[PolicyIssue] = sorted(set(issues))
        super().__init__("\n".join(str(i) for i in self.issues))


@dataclass(frozen=True, order=True)
class RecordIssue:
    """One problem in a customer record or event: the field path and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class RecordError(ValueError):
    """A record was rejected; ``issues`` lists every problem (never coerced silently)."""

    def __init__(self, issues: Iterable[RecordIssue]) -> None:
        self.issues: list[RecordIssue] = sorted(issues)
        super().__init__("; ".join(str(i) for i in self.issues))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return `` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
