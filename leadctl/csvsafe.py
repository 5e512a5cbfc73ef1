"""CSV that is safe to open in a spreadsheet, and output files readable by their owner only.

A cell starting with `=`, `+`, `-`, `@`, tab or carriage return is a formula to
Excel, LibreOffice and Google Sheets (OWASP "CSV injection"). Such a cell gets a
leading apostrophe, which spreadsheets show as text and hide. Plain numbers
(`-12.5`) and E.164 phone numbers (`+4930123456`) are left alone: they are data,
not formulas.
"""
from __future__ import annotations

import csv
import io
import os
import re
import sys
from contextlib import contextmanager
from typing import IO, Any, Iterable, Iterator

_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_E164 = re.compile(r"\+[1-9]\d{6,14}")


def safe_cell(value: Any) -> Any:
    """Neutralise one cell for a spreadsheet; non-strings pass through."""
    if not isinstance(value, str) or not value or not value.startswith(_DANGEROUS):
        return value
    if _PLAIN_NUMBER.fullmatch(value) or _E164.fullmatch(value):
        return value
    return "'" + value


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]


class SafeCsvWriter:
    """csv.writer whose every cell goes through `safe_cell`."""

    def __init__(self, stream: IO[str], **kwargs: Any):
        self._writer = csv.writer(stream, lineterminator="\n", **kwargs)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow(safe_row(row))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def open_private(path: str, mode: str = "w", *, newline: str | None = "") -> IO:
    """Open a file for writing lead data, created (or truncated) with mode 0600."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)
    except OSError:  # pragma: no cover - e.g. a FIFO or a file system without modes
        pass
    if "b" in mode:
        return os.fdopen(fd, mode)
    return os.fdopen(fd, mode, encoding="utf-8", newline=newline)


@contextmanager
def output_stream(path: str | None) -> Iterator[IO[str]]:
    """stdout when `path` is None or '-', else a private file."""
    if path in (None, "-"):
        yield sys.stdout
        sys.stdout.flush()
        return
    with open_private(path) as fh:
        yield fh


def csv_text(header: list[str], rows: Iterable[Iterable[Any]]) -> str:
    buf = io.StringIO()
    w = SafeCsvWriter(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()
