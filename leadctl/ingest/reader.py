"""The one streaming reader for import files: CSV, JSON and JSON Lines.

    with read_records("leads.csv") as stream:
        for row, record in stream:        # row: 1-based data row number
            ...
        stream.sha256                      # checksum of the bytes read, after iteration

`read_records` detects the format (extension, else the first non-blank character),
the encoding (BOM; UTF-8, else cp1252) and the CSV delimiter (`, ; TAB |`, counted in
the header line outside quotes). Every read or parse failure is an `InputError`
carrying the file name and, when known, the row or line.

Records are `dict[str, str | None]`: values are stripped strings ("" stays ""),
None where a row is too short or a JSON value is null. Row numbers:

* CSV: the n-th row after the header, as a spreadsheet shows it (spreadsheet row
  n + 1). Blank rows and rows whose cells are all empty are skipped but counted.
  Extra cells beyond the header go, joined with the delimiter, under `_extra`.
  Below a preamble (`find_header`: notes above the header row, as LinkedIn's
  Connections.csv has, or Excel's `sep=;` line) the preamble's lines are skipped,
  counted in `.preamble_lines`, and row n is still spreadsheet row n + 1.
* JSON: the 1-based position in the list of records.
* JSON Lines: the physical line number (blank lines are skipped but counted).

**Bad JSON Lines records.** A line that is not valid JSON, or not an object, does not
stop the stream: it is yielded as `(line_no, BadRecord(reason, raw))` so the importer
can reject that one row (with its raw text) and go on. Test with
`isinstance(record, BadRecord)`. CSV and JSON streams never yield BadRecord.

**Headers.** CSV: the header row (cleaned, see `clean_headers`) is known at once.
JSON: `.headers` is the union of the flattened keys of all records in first-seen
order (one pass over the keys, computed on first access). JSON Lines: before and
during iteration, the union over the first 1,000 records (which are read ahead and
buffered) plus the records read so far; complete once iteration has finished.

**Memory.** CSV and JSON Lines stream. A JSON document is parsed whole with `json.loads`
(the parsed list costs several times the file size); records are flattened one at
a time and released as they are yielded.
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import os
import re
import sys
from dataclasses import dataclass
from typing import Iterator

from leadctl.errors import InputError, UsageError

__all__ = ["read_records", "RecordStream", "BadRecord", "clean_headers", "FORMATS"]

FORMATS = ("csv", "json", "jsonl")
DELIMITERS = (",", ";", "\t", "|")
SAMPLE_SIZE = 64 * 1024
EXTRA_KEY = "_extra"
MAX_NESTING = 32
JSONL_LOOKAHEAD = 1000

_EXTENSIONS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".json": "json",
               ".jsonl": "jsonl", ".ndjson": "jsonl"}

# A 5 MB notes cell is legitimate; the csv default (128 KiB) is not enough.
csv.field_size_limit(max(csv.field_size_limit(), 256 * 1024 * 1024))


def _cp1252_fallback(err: UnicodeDecodeError):
    """Decode the five bytes cp1252 leaves undefined as their Latin-1 characters."""
    bad = err.object[err.start:err.end]
    return bytes(bad).decode("latin-1"), err.end


codecs.register_error("leadctl-cp1252", _cp1252_fallback)


@dataclass(frozen=True)
class BadRecord:
    """A JSON Lines line that could not be read as an object; the importer rejects it."""

    reason: str
    raw: str


class _HashingReader(io.RawIOBase):
    """Serves `prefix` (already read and hashed), then the file, hashing as it goes."""

    def __init__(self, raw, prefix: bytes, digest):
        self._raw = raw
        self._prefix = memoryview(prefix)
        self._digest = digest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._raw.read(len(buffer))
        if not data:
            return 0
        self._digest.update(data)
        n = len(data)
        buffer[:n] = data
        return n

    def close(self) -> None:
        try:
            if self._raw is not sys.stdin.buffer:
                self._raw.close()
        finally:
            super().close()


def clean_headers(names: list[str]) -> tuple[list[str], list[int]]:
    """(unique non-empty header names, their column indexes).

    Names are stripped; empty names (a trailing delimiter) are dropped; a repeated
    name becomes `Email_2`, `Email_3` … skipping names the file itself uses.
    """
    stripped = [raw.replace("\ufeff", "").replace("\x00", "").strip() for raw in names]
    reserved = set(stripped)
    seen: set[str] = set()
    out: list[str] = []
    keep: list[int] = []
    for i, name in enumerate(stripped):
        if not name:
            continue
        unique, k = name, 1
        while unique in seen or (unique != name and unique in reserved):
            k += 1
            unique = f"{name}_{k}"
        seen.add(unique)
        out.append(unique)
        keep.append(i)
    return out, keep


def _looks_binary(sample: bytes) -> bool:
    head = sample[:4096]
    if not head:
        return False
    # text has next to no control bytes; a stray NUL or two must still be readable
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 27))
    return control > max(8, len(head) // 20)


def _utf16_without_bom(sample: bytes) -> str | None:
    head = sample[:4096]
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    if odd.count(0) > len(odd) * 0.9 and even.count(0) < len(even) * 0.1:
        return "utf-16-le"
    if even.count(0) > len(even) * 0.9 and odd.count(0) < len(odd) * 0.1:
        return "utf-16-be"
    return None


def _detect_encoding(sample: bytes, name: str) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    utf16 = _utf16_without_bom(sample)
    if utf16:
        return utf16
    if _looks_binary(sample):
        raise InputError("not a text file (binary content)", file=name,
                         hint="export the data as CSV, JSON or JSON Lines")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=len(sample) < SAMPLE_SIZE)
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252"


def _first_line(text: str) -> str:
    """The first logical line (a quoted newline does not end it)."""
    quoted = False
    for i, c in enumerate(text):
        if c == '"':
            quoted = not quoted
        elif c in "\r\n" and not quoted:
            return text[:i]
    return text


PREAMBLE_WINDOW = 20  # lines searched for a header row below notes
_SEP_LINE = re.compile(r"\ufeff?sep=(.)[\r\n]*\Z")  # Excel's `sep=;` first line


def _physical_lines(text: str, limit: int, complete: bool) -> list[str]:
    """The first lines of `text` with their ends, split as the reader splits them (`\n`, `\r\n`, `\r`);
    a last line cut off by the end of the sample is left out."""
    out: list[str] = []
    pos, n = 0, len(text)
    while len(out) < limit and pos < n:
        m = _EOL.search(text, pos)
        if m is None or (m.group() == "\r" and m.end() == n and not complete):
            if complete:
                out.append(text[pos:])
            break
        out.append(text[pos:m.end()])
        pos = m.end()
    return out


_EOL = re.compile(r"\r\n|\r|\n")


def _cells(line: str, delimiter: str | None) -> list[str]:
    """One line's cells, stripped (the delimiter sniffed from the line when not given)."""
    line = line.replace("\x00", "").lstrip("\ufeff")
    try:
        cells = next(csv.reader([line.rstrip("\r\n")], delimiter=delimiter or sniff_delimiter(line), strict=False), [])
    except csv.Error:
        cells = [line]
    return [c.strip() for c in cells]


def _filled(cells: list[str]) -> int:
    return sum(1 for c in cells if c)


def _names_columns(cells: list[str]) -> bool:
    """At least two cells, none empty but trailing ones: the shape of a header row."""
    filled = _filled(cells)
    return filled >= 2 and all(cells[:filled])


def find_header(text: str, delimiter: str | None = None, complete: bool = True) -> tuple[int, int, str | None]:
    """Where a CSV file's header row starts: (lines before it, characters before it, delimiter named
    by an Excel `sep=` line or None).

    Usually the first line. Below notes (LinkedIn's Connections.csv starts with two lines of
    notes and a blank line) it is the first line within PREAMBLE_WINDOW whose cells name known
    lead fields, every line above it being narrower; failing that, after lines of one cell
    each, the first line of named cells that the next line matches in width. Leading blank
    lines alone are not a preamble (they are skipped as before: (0, 0, None)).
    """
    from .headers import is_known_header

    lines = _physical_lines(text, PREAMBLE_WINDOW + 4, complete)
    nonblank = [i for i, line in enumerate(lines) if line.strip().strip("\x00\ufeff")]
    if not nonblank:
        return 0, 0, None
    first = start = nonblank[0]
    sep = None
    m = _SEP_LINE.match(lines[first])
    if m and m.group(1) not in "\"\r\n":
        sep = delimiter or m.group(1)
        start = next((i for i in nonblank if i > first), first)
    cells = {}

    def parse(i: int, d: str | None = None) -> list[str]:
        if d is not None:
            return _cells(lines[i], d)
        if i not in cells:
            cells[i] = _cells(lines[i], delimiter or sep)
        return cells[i]

    def found(i: int) -> tuple[int, int, str | None]:
        if i == first:
            return 0, 0, None
        return i, sum(len(line) for line in lines[:i]), sep

    if _names_columns(parse(start)):
        return found(start)  # the usual file
    window = [i for i in range(start, min(len(lines), start + PREAMBLE_WINDOW)) if _filled(parse(i))]
    for i in window:  # a row naming known fields below narrower lines
        row = parse(i)
        filled = _filled(row)
        known = sum(1 for c in row if c and is_known_header(c))
        if known >= min(2, filled):
            if all(_filled(parse(j)) < filled for j in window if j < i):
                return found(i)
            break
    if _filled(parse(start)) <= 1 or not window:  # notes of one cell each, then a table
        for k, i in enumerate(window):
            row = parse(i)
            if _filled(row) < 2:
                continue
            if _names_columns(row) and k + 1 < len(window):
                d = delimiter or sep or sniff_delimiter(lines[i])
                if len(parse(window[k + 1], d)) == len(_cells(lines[i], d)):
                    return found(i)
            break
    return found(start)


def sniff_delimiter(line: str) -> str:
    """The candidate delimiter occurring most often outside quotes (ties: `, ; TAB |`)."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for c in line:
        if c == '"':
            quoted = not quoted
        elif not quoted and c in counts:
            counts[c] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])  # max keeps the first of equals
    return best if counts[best] else ","


def _sniff_format(text: str) -> str:
    stripped = text.lstrip()
    if stripped.startswith("["):
        return "json"
    if stripped.startswith("{"):
        first, _, rest = stripped.partition("\n")
        try:
            obj = json.loads(first)
        except (ValueError, RecursionError):
            return "json"
        return "jsonl" if isinstance(obj, dict) and rest.strip() else "json"
    return "csv"


def _norm_format(fmt: str | None) -> str | None:
    if fmt is None:
        return None
    f = fmt.strip().lower().lstrip(".")
    f = {"ndjson": "jsonl", "tsv": "csv", "txt": "csv"}.get(f, f)
    if f not in FORMATS:
        raise UsageError(f"unknown input format {fmt!r}", hint="use csv, json or jsonl")
    return f


def _norm_delimiter(delimiter: str | None) -> str | None:
    if delimiter is None:
        return None
    d = {"\\t": "\t", "tab": "\t", "TAB": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}.get(delimiter, delimiter)
    if len(d) != 1 or d in "\"\r\n":
        raise UsageError(f"bad delimiter {delimiter!r}", hint="give one character, e.g. ';' or '\\t'")
    return d


def _str(value) -> str | None:
    """JSON scalar → text: null → None, true → "true", 1200 / 1200.0 → "1200", 3.5 → "3.5"."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip()
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return repr(value) if isinstance(value, float) else str(value)


def _json_type(value) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(value), type(value).__name__)


def _flatten(obj: dict, out: dict, prefix: str, depth: int) -> None:
    if depth > MAX_NESTING:
        raise ValueError(f"objects nested more than {MAX_NESTING} levels deep")
    for key, value in obj.items():
        name = prefix + str(key).strip()
        if isinstance(value, dict):
            _flatten(value, out, name + ".", depth + 1)
        elif isinstance(value, list):
            try:
                out[name] = json.dumps(value, ensure_ascii=False)
            except RecursionError:
                raise ValueError("lists nested too deeply") from None
        else:
            out[name] = _str(value)


def flatten_record(obj: dict) -> dict[str, str | None]:
    """A JSON object as a flat record: nested keys joined with dots, lists as JSON text."""
    out: dict[str, str | None] = {}
    _flatten(obj, out, "", 0)
    return out


class RecordStream:
    """An open input file: `.headers`, `.format`, `.encoding`, `.delimiter`, `.name`,
    iteration yielding `(row_number, record)` once, and `.sha256` after iteration."""

    def __init__(self, path: str, fmt: str | None, delimiter: str | None, encoding: str | None):
        self.path = path
        self.name = "<stdin>" if path == "-" else path
        self._digest = hashlib.sha256()
        self._done = False
        self._started = False
        self._headers: list[str] = []
        self._header_set: set[str] = set()
        self._lookahead: list[tuple[int, dict | BadRecord]] = []
        self._items: list | None = None
        self._json_headers_done = False
        fmt = _norm_format(fmt)
        delimiter = _norm_delimiter(delimiter)

        raw = self._open_raw(path)
        try:
            sample = raw.read(SAMPLE_SIZE)
        except OSError as e:
            raw.close()
            raise InputError(f"cannot read: {e.strerror or e}", file=self.name) from None
        self._digest.update(sample)
        self._binary = _HashingReader(raw, sample, self._digest)

        if encoding:
            try:
                encoding = codecs.lookup(encoding).name
            except LookupError:
                self.close()
                raise UsageError(f"unknown encoding {encoding!r}", hint="e.g. utf-8, cp1252, latin-1, utf-16") from None
        else:
            try:
                encoding = _detect_encoding(sample, self.name)
            except InputError:
                self.close()
                raise
        self.encoding = encoding
        errors = "leadctl-cp1252" if encoding == "cp1252" else "strict"
        try:
            head = sample.decode(encoding, errors=errors) if encoding != "utf-8" else \
                codecs.getincrementaldecoder("utf-8")().decode(sample)
        except UnicodeDecodeError:
            head = sample.decode(encoding, errors="replace")
        if encoding == "utf-8-sig":
            head = head.lstrip("\ufeff")
        if not head.strip().strip("\x00"):
            self.close()
            raise InputError("file is empty", file=self.name)

        if fmt is None:
            ext = os.path.splitext(path)[1].lower() if path != "-" else ""
            fmt = _EXTENSIONS.get(ext) or _sniff_format(head)
        self.format = fmt
        self.delimiter = None
        self.preamble_lines = 0  # CSV: lines above the header row, skipped (find_header)
        self._skip = 0
        newline = "" if fmt == "csv" else None
        self._text = io.TextIOWrapper(io.BufferedReader(self._binary, 1 << 16), encoding=encoding,
                                      errors=errors, newline=newline)
        try:
            if fmt == "csv":
                self.preamble_lines, self._skip, sep = find_header(head, delimiter, len(sample) < SAMPLE_SIZE)
                first = _first_line(head[self._skip:].lstrip("\ufeff").lstrip("\r\n"))
                self.delimiter = delimiter or sep or sniff_delimiter(first)
                self._start_csv()
            elif fmt == "jsonl":
                self._jsonl = self._iter_jsonl()
            # json: parsed on first use (headers or iteration)
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ opening
    def _open_raw(self, path: str):
        if path == "-":
            return sys.stdin.buffer
        try:
            return open(path, "rb")
        except FileNotFoundError:
            raise InputError("no such file", file=path) from None
        except IsADirectoryError:
            raise InputError("is a directory, not a file", file=path) from None
        except PermissionError:
            raise InputError("permission denied", file=path) from None
        except OSError as e:
            raise InputError(f"cannot open: {e.strerror or e}", file=path) from None

    def close(self) -> None:
        text = getattr(self, "_text", None)
        (text or self._binary).close()

    def __enter__(self) -> "RecordStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ public
    @property
    def headers(self) -> list[str]:
        if self.format == "json" and not self._json_headers_done:
            items = self._load_json()
            for i, item in enumerate(items, 1):
                if isinstance(item, dict):
                    self._add_headers(self._flat(item, i))
            self._json_headers_done = True
        elif self.format == "jsonl" and not self._started and not self._lookahead:
            for _ in range(JSONL_LOOKAHEAD):
                entry = next(self._jsonl, None)
                if entry is None:
                    break
                self._lookahead.append(entry)
        return list(self._headers)

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the raw bytes; complete once iteration has finished."""
        return self._digest.hexdigest()

    @property
    def finished(self) -> bool:
        return self._done

    def __iter__(self) -> Iterator[tuple[int, dict[str, str | None] | BadRecord]]:
        if self._started:
            raise RuntimeError("a RecordStream can be iterated only once")
        self._started = True
        inner = {"csv": self._iter_csv, "json": self._iter_json, "jsonl": self._iter_jsonl_buffered}[self.format]
        try:
            yield from inner()
            self._drain()
            self._done = True
        finally:
            self.close()

    # ------------------------------------------------------------------ helpers
    def _add_headers(self, record: dict) -> None:
        for k in record:
            if k not in self._header_set:
                self._header_set.add(k)
                self._headers.append(k)

    def _drain(self) -> None:
        """Read whatever is left so the checksum covers the whole file."""
        try:
            while self._binary.read(1 << 16):
                pass
        except (OSError, ValueError):
            pass

    def _decode_error(self, row: int | None, e: UnicodeDecodeError) -> InputError:
        return InputError(f"cannot decode as {self.encoding} ({e.reason} at byte {e.start})",
                          file=self.name, row=row,
                          hint="the file mixes encodings; re-run with --encoding cp1252 (or the right one)")

    # ------------------------------------------------------------------ CSV
    def _lines(self) -> Iterator[str]:
        skip = self._skip  # the preamble: whole lines, as find_header counted them
        for line in self._text:
            if skip > 0:
                skip -= len(line)
                continue
            if "\x00" in line:
                line = line.replace("\x00", "")
            yield line
        # The csv module (strict=False) completes a row at end of file only when a quoted
        # field is still open; _iter_csv uses this to tell such a row from a whole one.
        self._eof = True

    def _start_csv(self) -> None:
        self._eof = False
        self._reader = csv.reader(self._lines(), delimiter=self.delimiter, strict=False)
        header: list[str] | None = []
        try:
            while header == []:  # leading blank lines
                header = next(self._reader, None)
        except UnicodeDecodeError as e:
            raise self._decode_error(None, e) from None
        except csv.Error as e:
            raise InputError(f"unreadable CSV header: {e}", file=self.name, line=self.preamble_lines + 1) from None
        if header is None:
            raise InputError("file is empty", file=self.name)
        if self._eof:
            raise InputError("unterminated quote: a quoted name in the header runs to the end of the file",
                             file=self.name, line=self.preamble_lines + 1, hint="the header row has an unmatched '\"'")
        self._width = len(header)
        self._headers, self._keep = clean_headers(header)
        self._header_set = set(self._headers)
        if not self._headers:
            raise InputError("the header row has no column names", file=self.name, line=self.preamble_lines + 1,
                             hint="the first row of a CSV file must name the columns")

    def cells_of(self, names: list[str]) -> Iterator[tuple[int, list[str | None]]]:
        """(row number, the named columns' values) for the records iterating would yield, in order, with
        the same errors; a CSV file's rows are not built into records (a pass that needs a few columns
        reads only those), and a row may come that iterating skips as empty."""
        if self.format != "csv":
            for number, record in self:
                if not isinstance(record, BadRecord):
                    yield number, [record.get(name) for name in names]
            return
        if self._started:
            raise RuntimeError("a RecordStream can be iterated only once")
        self._started = True
        index = dict(zip(self._headers, self._keep))
        wanted = [index[name] for name in names]
        try:
            for row, cells in self._csv_cells():
                n = len(cells)
                yield row, [cells[i].strip() if i < n else None for i in wanted]
            self._drain()
            self._done = True
        finally:
            self.close()

    def _csv_cells(self) -> Iterator[tuple[int, list[str]]]:
        """(row number, cells) for every non-blank CSV row, or the InputError that says where it breaks."""
        row = self.preamble_lines  # row n is line n + 1 of the file, below a preamble too
        it = iter(self._reader)
        while True:
            try:
                cells = next(it, None)
            except UnicodeDecodeError as e:
                raise self._decode_error(row + 1, e) from None
            except csv.Error as e:
                raise InputError(f"unreadable CSV: {e}", file=self.name, row=row + 1) from None
            if cells is None:
                return
            row += 1
            if self._eof:
                # Silently importing this row would hide every line after the stray quote.
                raise InputError("unterminated quote: a quoted field in this row runs to the end of the file",
                                 file=self.name, row=row,
                                 hint="the file may be truncated, or a value has an unmatched '\"'")
            if cells:
                yield row, cells

    def _iter_csv(self):
        names, keep, width = self._headers, self._keep, self._width
        simple = len(keep) == width  # no dropped (empty-named) columns
        dropped = [i for i in range(width) if i not in set(keep)]
        delim = self.delimiter
        for row, cells in self._csv_cells():
            n = len(cells)
            if simple and n == width:
                record = dict(zip(names, [c.strip() for c in cells]))
            else:
                record = {name: (cells[i].strip() if i < n else None) for name, i in zip(names, keep)}
                # cells under an empty header name or beyond the header: keep, never lose
                extra = [cells[i].strip() for i in dropped if i < n] + [c.strip() for c in cells[width:]]
                if any(extra):
                    record[EXTRA_KEY] = delim.join(extra)
            if not any(record.values()):
                continue
            yield row, record

    # ------------------------------------------------------------------ JSON
    def _load_json(self) -> list:
        if self._items is not None:
            return self._items
        try:
            text = self._text.read()
        except UnicodeDecodeError as e:
            raise self._decode_error(None, e) from None
        if text.startswith("\ufeff"):
            text = text[1:]
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError(f"invalid JSON: {e.msg} (line {e.lineno}, column {e.colno})",
                             file=self.name, line=e.lineno,
                             hint="the file may be truncated; check that it was fully exported") from None
        except RecursionError:
            raise InputError("invalid JSON: nested too deeply", file=self.name) from None
        except ValueError as e:  # e.g. an integer beyond Python's digit limit
            raise InputError(f"invalid JSON: {e}", file=self.name) from None
        del text
        items = self._records_list(data)
        for i, item in enumerate(items, 1):
            if not isinstance(item, dict):
                raise InputError(f"item {i} of the list is a {_json_type(item)}, not an object",
                                 file=self.name, row=i, hint="every record must be a JSON object")
        self._items = items
        return items

    def _records_list(self, data) -> list:
        if isinstance(data, list):
            return data
        if not isinstance(data, dict):
            raise InputError("JSON holds a single value, expected a list of records", file=self.name,
                             hint="give an array of objects, an object holding one, or JSON Lines")
        lists = {k: v for k, v in data.items() if isinstance(v, list)}
        records = {k: v for k, v in lists.items() if all(isinstance(x, dict) for x in v)}
        nonempty = {k: v for k, v in records.items() if v}
        chosen = nonempty or records
        if len(chosen) == 1:
            return next(iter(chosen.values()))
        if not chosen and len(lists) == 1:
            return next(iter(lists.values()))  # reported item by item
        if len(chosen) > 1:
            raise InputError(f"JSON object holds several lists of records ({', '.join(map(str, chosen))})",
                             file=self.name, hint="give a file with one list of records")
        raise InputError("JSON object holds no list of records", file=self.name,
                         hint='expected e.g. [{"email": …}, …] or {"records": [{…}, …]}')

    def _flat(self, item: dict, index: int) -> dict:
        try:
            return flatten_record(item)
        except (ValueError, RecursionError) as e:
            raise InputError(f"record {index}: {e}", file=self.name, row=index) from None

    def _iter_json(self):
        items = self._load_json()
        for i in range(len(items)):
            item = items[i]
            record = self._flat(item, i + 1)
            items[i] = None  # release memory as we go
            if not self._json_headers_done:
                self._add_headers(record)
            yield i + 1, record
        self._json_headers_done = True

    # ------------------------------------------------------------------ JSON Lines
    def _iter_jsonl(self):
        line_no = 0
        it = iter(self._text)
        while True:
            try:
                line = next(it, None)
            except UnicodeDecodeError as e:
                raise self._decode_error(line_no + 1, e) from None
            if line is None:
                return
            line_no += 1
            text = line.strip()
            if line_no == 1:
                text = text.lstrip("\ufeff")
            if not text:
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as e:
                yield line_no, BadRecord(f"invalid JSON: {e.msg} (column {e.colno})", text)
                continue
            except RecursionError:
                yield line_no, BadRecord("invalid JSON: nested too deeply", text)
                continue
            except ValueError as e:
                yield line_no, BadRecord(f"invalid JSON: {e}", text)
                continue
            if not isinstance(obj, dict):
                yield line_no, BadRecord(f"line holds a JSON {_json_type(obj)}, not an object", text)
                continue
            try:
                record = flatten_record(obj)
            except (ValueError, RecursionError) as e:
                yield line_no, BadRecord(str(e), text)
                continue
            self._add_headers(record)
            yield line_no, record

    def _iter_jsonl_buffered(self):
        buffered, self._lookahead = self._lookahead, []
        yield from buffered
        yield from self._jsonl


def read_records(path: str, *, fmt: str | None = None, delimiter: str | None = None,
                 encoding: str | None = None) -> RecordStream:
    """Open an import file (`-` for stdin) as a stream of `(row_number, record)`.

    `fmt` (csv, json, jsonl), `delimiter` and `encoding` override detection.
    Raises InputError for unreadable files and UsageError for bad option values.
    """
    return RecordStream(path, fmt, delimiter, encoding)
