"""The rejects file: every rejected row and every warning, with its reason and original values.

Columns: `row, status, reason, field, value`, then the input's own columns.
`status` is `rejected` (the row was not imported) or `warning` (the lead was
imported without that one value, which is kept under `attributes`). The file is
created only when there is something to write, readable by its owner only, and
spreadsheet-safe.
"""
from __future__ import annotations

from typing import Any, Sequence

from ..csvsafe import SafeCsvWriter, open_private


class RejectsWriter:
    def __init__(self, path: str, headers: Sequence[str], *, enabled: bool = True):
        self.path = path
        self.headers = list(headers)
        self.enabled = enabled
        self.path_written: str | None = None
        self._fh = None
        self._writer: SafeCsvWriter | None = None

    def _open(self) -> SafeCsvWriter:
        if self._writer is None:
            self._fh = open_private(self.path)
            self._writer = SafeCsvWriter(self._fh)
            self._writer.writerow(["row", "status", "reason", "field", "value", *self.headers])
            self.path_written = self.path
        return self._writer

    def _row(self, number: int, status: str, reason: str | None, field: str | None, value: Any,
             raw: dict[str, Any]) -> None:
        if not self.enabled:
            return
        extra = [v for k, v in raw.items() if k not in self.headers and not k.startswith("_")]
        cells = [raw.get(h) for h in self.headers]
        if "_raw" in raw:
            cells = [raw.get("_raw")]
        self._open().writerow([number, status, reason or "", field or "", value if value is not None else "",
                               *cells, *extra])

    def write(self, number: int, reason: str | None, field: str | None, value: Any, raw: dict[str, Any]) -> None:
        self._row(number, "rejected", reason, field, value, raw)

    def warn(self, number: int, reason: str, field: str | None, value: Any, raw: dict[str, Any]) -> None:
        self._row(number, "warning", reason, field, value, raw)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
