"""The checklist ``akool-bot check`` prints: one line per finding, each ❌ with its fix."""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass


class Mark(enum.Enum):
    OK = "✅"
    WARN = "⚠️"
    FAIL = "❌"


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of the checklist; a failure carries the fix, in one line."""

    mark: Mark
    text: str
    fix: str | None = None

    def render(self) -> str:
        line = f"{self.mark.value} {self.text}"
        if self.fix:
            line += f"\n   Fix: {self.fix}"
        return line


def ok(text: str) -> Finding:
    return Finding(Mark.OK, text)


def warn(text: str, fix: str | None = None) -> Finding:
    return Finding(Mark.WARN, text, fix)


def fail(text: str, fix: str) -> Finding:
    return Finding(Mark.FAIL, text, fix)


def render(findings: Iterable[Finding]) -> str:
    """The checklist, then a last line saying whether anything must be fixed."""
    found = list(findings)
    lines = [finding.render() for finding in found]
    failures = sum(1 for f in found if f.mark is Mark.FAIL)
    warnings = sum(1 for f in found if f.mark is Mark.WARN)
    if failures:
        lines.append(f"\n{_count(failures, 'problem')} to fix, {_count(warnings, 'warning')}.")
    else:
        lines.append(f"\nNothing to fix ({_count(warnings, 'warning')}).")
    return "\n".join(lines) + "\n"


def failed(findings: Iterable[Finding]) -> bool:
    return any(f.mark is Mark.FAIL for f in findings)


def shown(name: str) -> str:
    """A name from Discord (a server's, a channel's: anyone's text) on one line of a terminal:
    control characters, which could move the cursor or fake a line, become spaces."""
    cleaned = "".join(" " if unicodedata.category(c).startswith("C") else c for c in name)
    return " ".join(cleaned.split())[:100]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
