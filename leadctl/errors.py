"""One exception family for the whole core; the CLI turns it into a message and an exit code."""
from __future__ import annotations

from dataclasses import dataclass


class LeadctlError(Exception):
    """Base of every error leadctl reports to a person.

    `message` is one line saying what is wrong; `hint` optionally says what to do.
    The CLI prints `error: <message>` (and `hint: <hint>`) and exits with `exit_code`.
    """

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None, file: str | None = None,
                 line: int | None = None, row: int | None = None, field: str | None = None):
        self.message = message
        self.hint = hint
        self.file = file
        self.line = line
        self.row = row
        self.field = field
        super().__init__(self.describe())

    def describe(self) -> str:
        where = ""
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
            elif self.row is not None:
                where += f": row {self.row}"
            where += ": "
        elif self.row is not None:
            where = f"row {self.row}: "
        return where + self.message


class InputError(LeadctlError):
    """An input file cannot be read (missing, undecodable, not CSV/JSON, truncated)."""


class StoreError(LeadctlError):
    """The database cannot be opened, migrated or written."""


class NotFoundError(LeadctlError):
    """A lead, batch, owner or task named on the command line does not exist."""


class UsageError(LeadctlError):
    """A command-line value is wrong (bad duration, unknown stage name …)."""

    exit_code = 2


@dataclass(frozen=True)
class RuleProblem:
    """One mistake in a rule file, with its position."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


class RulesError(LeadctlError):
    """Rule files are invalid; carries every problem found, all files at once."""

    exit_code = 2

    def __init__(self, problems: list[RuleProblem]):
        self.problems = list(problems)
        first = str(self.problems[0]) if self.problems else "invalid rules"
        more = len(self.problems) - 1
        super().__init__(first + (f" (and {more} more)" if more > 0 else ""),
                         hint="run `leadctl rules check` to see every problem")

    def describe(self) -> str:  # the full list, one per line
        return "\n".join(str(p) for p in getattr(self, "problems", [])) or self.message
