"""One exception family for the whole core; the CLI turns it into a message and an exit code."""
from __future__ import annotations

import errno
import os
from dataclasses import dataclass


class LeadctlError(Exception):
    """Base of every error leadctl reports to a person.

    `message` is one line saying what is wrong, as a fact about the value, file or row
    (never about a command-line flag); `hint` optionally says what to do. `option` is the
    command-line option the value came from, set by the CLI (see cli.context.from_option),
    which shows it first. The CLI prints `error: <message>` (and `hint: <hint>`) and exits
    with `exit_code`.
    """

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None, file: str | None = None,
                 line: int | None = None, row: int | None = None, field: str | None = None,
                 option: str | None = None):
        self.message = message
        self.hint = hint
        self.file = file
        self.line = line
        self.row = row
        self.field = field
        self.option = option
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
        elif self.option:
            where = f"{self.option}: "
        return where + self.message


class InputError(LeadctlError):
    """An input file cannot be read (missing, undecodable, not CSV/JSON, truncated)."""


class StoreError(LeadctlError):
    """The database cannot be opened, migrated or written."""


class OutputError(LeadctlError):
    """A file leadctl writes (export, report, rejects) cannot be created or written."""


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
    hint: str | None = None

    def to_dict(self) -> dict:
        """`{file, line, message, hint}` for `rules check --format json`."""
        return {"file": self.file, "line": self.line, "message": self.message, "hint": self.hint}

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


# What a person can do about each operating-system error; the message names the file.
_OS_REASONS: dict[int | None, tuple[str, str | None]] = {
    errno.ENOENT: ("no such file or folder", "check the path; the folder {folder} must exist"),
    errno.ENOTDIR: ("a part of the path is not a folder", "check the path"),
    errno.EISDIR: ("is a folder, not a file", "name a file inside the folder"),
    errno.EACCES: ("permission denied", "check the permissions of the file and its folder"),
    errno.EPERM: ("permission denied", "check the permissions of the file and its folder"),
    errno.EROFS: ("the file system is read-only", "write somewhere else"),
    errno.ENOSPC: ("no space left on the disk", "free some space and run the command again"),
    errno.EDQUOT: ("disk quota exceeded", "free some space and run the command again"),
    errno.EFBIG: ("the file is too large for the file system", "write somewhere else"),
    errno.EIO: ("input/output error", "check the disk"),
    errno.ENAMETOOLONG: ("the file name is too long", "choose a shorter path"),
}


def os_error(exc: OSError, *, action: str | None = None, option: str | None = None, path: str | None = None,
             cls: type[LeadctlError] = LeadctlError) -> LeadctlError:
    """One line for an operating-system error: what failed on which file, and a hint.

    `os_error(exc, action="write", option="--output")` →
    `--output: cannot write out/x.csv: no such file or folder` / `hint: … the folder out must exist`.
    """
    path = exc.filename if exc.filename is not None else path
    reason, hint = _OS_REASONS.get(exc.errno, ((exc.strerror or str(exc)).lower(), None))
    shown = os.fsdecode(path) if path is not None else None
    if shown is None:
        what = f"cannot {action}" if action else "input/output failed"
    else:
        what = f"cannot {action} {shown}" if action else shown
    if hint and "{folder}" in hint:
        hint = hint.format(folder=os.path.dirname(shown or "") or ".")
    return cls(f"{what}: {reason}", hint=hint, option=option)
