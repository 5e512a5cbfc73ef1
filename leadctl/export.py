"""Export leads as CSV, a JSON array or JSON Lines, streaming in constant memory.

    with open_private("leads.csv") as out:
        export_leads(store, LeadFilter(stage="mql"), out, fmt="csv")

Columns: `id`, the lead fields in their documented order (docs/json.md), then one
`attributes.<key>` column per custom field found on the exported leads (sorted).
JSON and JSON Lines objects carry the same keys, every key on every object
(null where a lead has no value), so a consumer sees a stable shape.

Values:
- datetimes: ISO 8601 in UTC with a `Z`, to the second — `2026-01-31T09:05:00Z`;
- booleans: `true`/`false` in CSV, JSON booleans in JSON;
- missing values: an empty CSV cell, JSON null;
- attribute values that are lists or objects: compact JSON text in CSV, as-is in JSON.
CSV cells go through the spreadsheet-safe writer (formulas neutralised; plain
numbers and E.164 phones left alone).

Streaming: rows come from a server-side cursor (`stream_results`, `yield_per`)
on both SQLite and PostgreSQL. CSV needs the attribute keys before its header,
so a first pass asks the database for the distinct keys (`json_each` on SQLite,
`json_object_keys` on PostgreSQL; elsewhere a streaming pass over the
attributes column alone).
"""
from __future__ import annotations

import json
from datetime import date, datetime, timezone
from typing import IO, Any, Callable

from sqlalchemy import and_

from .engine.leadquery import LEADS, LeadFilter, lead_conditions, select_leads
from .store.models import LEAD_FIELDS
from .store.sqlfuncs import json_object_keys

EXPORT_FORMATS = ("csv", "json", "jsonl")
BASE_COLUMNS = ("id", *LEAD_FIELDS)
YIELD_PER = 5000


def iso_utc(value: datetime) -> str:
    """`2026-01-31T09:05:00Z` — the export's one datetime format."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return _plain(value)


def attribute_keys(conn, flt: LeadFilter) -> list[str]:
    """The distinct keys of `attributes` over the leads the filter selects, sorted."""
    where = lead_conditions(flt)
    return sorted(json_object_keys(conn, LEADS.c.attributes, and_(*where) if where else None, yield_per=YIELD_PER))


def export_leads(store, flt: LeadFilter, out: IO[str], *, fmt: str = "csv",
                 progress: Callable[[int], None] | None = None) -> int:
    """Write the selected leads to `out` in `fmt` (csv, json, jsonl); return how many were written."""
    from .csvsafe import SafeCsvWriter
    from .errors import UsageError

    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"'{fmt}' is not an export format (one of {', '.join(EXPORT_FORMATS)})")
    flt_sorted = flt if flt.sort else LeadFilter(**{**flt.__dict__, "sort": "id"})
    stmt = select_leads(flt_sorted, [LEADS.c[name] for name in BASE_COLUMNS] + [LEADS.c.attributes])
    count = 0
    with store.connect() as conn:
        keys = attribute_keys(conn, flt)
        header = [*BASE_COLUMNS, *(f"attributes.{k}" for k in keys)]
        result = conn.execution_options(stream_results=True, yield_per=YIELD_PER).execute(stmt)
        writer = SafeCsvWriter(out) if fmt == "csv" else None
        if writer:
            writer.writerow(header)
        elif fmt == "json":
            out.write("[")
        for row in result:
            values = list(row[: len(BASE_COLUMNS)])
            attrs = row[-1] if isinstance(row[-1], dict) else {}
            values.extend(attrs.get(k) for k in keys)
            if writer:
                writer.writerow([_csv_cell(v) for v in values])
            else:
                line = json.dumps({h: _plain(v) for h, v in zip(header, values)}, ensure_ascii=False)
                if fmt == "json":
                    out.write(("," if count else "") + "\n" + line)
                else:
                    out.write(line + "\n")
            count += 1
            if progress and count % YIELD_PER == 0:
                progress(count)
        if fmt == "json":
            out.write("\n]\n" if count else "]\n")
    return count
