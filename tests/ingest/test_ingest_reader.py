"""The streaming reader: formats, encodings, delimiters and every way a file can be wrong."""
from __future__ import annotations

import codecs
import hashlib
import io
import json
import sys
from pathlib import Path

import pytest

from leadctl.errors import InputError, UsageError
from leadctl.ingest.reader import BadRecord, clean_headers, read_records, sniff_delimiter

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def write(tmp_path: Path, name: str, data: bytes | str, encoding: str = "utf-8") -> str:
    p = tmp_path / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))
    return str(p)


def read_all(path: str, **kw):
    stream = read_records(path, **kw)
    rows = list(stream)
    return stream, rows


# ------------------------------------------------------------------ CSV variants

CSV_CASES = [
    # (file name, bytes, expected delimiter, expected encoding, expected rows)
    ("plain.csv", b"Email,Name\na@x.com,Ada\n", ",", "utf-8", [{"Email": "a@x.com", "Name": "Ada"}]),
    ("bom.csv", codecs.BOM_UTF8 + b"Email,Name\na@x.com,Ada\n", ",", "utf-8-sig",
     [{"Email": "a@x.com", "Name": "Ada"}]),
    ("utf16.csv", "Email,Name\r\na@x.com,Zoë\r\n".encode("utf-16"), ",", "utf-16",
     [{"Email": "a@x.com", "Name": "Zoë"}]),
    ("latin1.csv", "Email;Name\na@x.com;Müller\n".encode("latin-1"), ";", "cp1252",
     [{"Email": "a@x.com", "Name": "Müller"}]),
    ("cp1252.csv", "Email,Note\na@x.com,“quoted” – €\n".encode("cp1252"), ",", "cp1252",
     [{"Email": "a@x.com", "Note": "“quoted” – €"}]),
    ("crlf.csv", b"Email,Name\r\na@x.com,Ada\r\nb@x.com,Bob\r\n", ",", "utf-8",
     [{"Email": "a@x.com", "Name": "Ada"}, {"Email": "b@x.com", "Name": "Bob"}]),
    ("mixed.csv", b"Email,Name\r\na@x.com,Ada\nb@x.com,Bob\r", ",", "utf-8",
     [{"Email": "a@x.com", "Name": "Ada"}, {"Email": "b@x.com", "Name": "Bob"}]),
    ("quoted.csv", b'Email,Notes\na@x.com,"line one\nline two, with comma"\n', ",", "utf-8",
     [{"Email": "a@x.com", "Notes": "line one\nline two, with comma"}]),
    ("semi.csv", b"Email;Revenue\na@x.com;1.200,50\n", ";", "utf-8", [{"Email": "a@x.com", "Revenue": "1.200,50"}]),
    ("tab.tsv", b"Email\tName\na@x.com\tAda\n", "\t", "utf-8", [{"Email": "a@x.com", "Name": "Ada"}]),
    ("pipe.txt", b"Email|Name\na@x.com|Ada\n", "|", "utf-8", [{"Email": "a@x.com", "Name": "Ada"}]),
    ("quoted_delims.csv", b'"a;b;c",Name,Email\nx,Ada,a@x.com\n', ",", "utf-8",
     [{"a;b;c": "x", "Name": "Ada", "Email": "a@x.com"}]),
    ("trailing.csv", b"Email,Name,\na@x.com,Ada,\n", ",", "utf-8", [{"Email": "a@x.com", "Name": "Ada"}]),
    ("spaces.csv", b" Email , Name \n  a@x.com ,  \n", ",", "utf-8", [{"Email": "a@x.com", "Name": ""}]),
    ("nul.csv", b"Email,Name\na@x.com,A\x00da\n", ",", "utf-8", [{"Email": "a@x.com", "Name": "Ada"}]),
    ("noext", b"Email,Name\na@x.com,Ada\n", ",", "utf-8", [{"Email": "a@x.com", "Name": "Ada"}]),
    ("single_column.csv", b"Email\na@x.com\n", ",", "utf-8", [{"Email": "a@x.com"}]),
]


@pytest.mark.parametrize("name,data,delimiter,encoding,expected", CSV_CASES, ids=[c[0] for c in CSV_CASES])
def test_csv_variants(tmp_path, name, data, delimiter, encoding, expected):
    stream, rows = read_all(write(tmp_path, name, data))
    assert stream.format == "csv"
    assert stream.delimiter == delimiter
    assert stream.encoding == encoding
    assert [r for _, r in rows] == expected
    assert stream.sha256 == hashlib.sha256(data).hexdigest()


def test_row_numbers_count_blank_rows_and_skip_empty_ones(tmp_path):
    path = write(tmp_path, "blank.csv", "Email,Name\na@x.com,Ada\n\n,\nb@x.com,Bob\n")
    _, rows = read_all(path)
    assert [(n, r["Email"]) for n, r in rows] == [(1, "a@x.com"), (4, "b@x.com")]


def test_duplicate_and_empty_header_names(tmp_path):
    path = write(tmp_path, "dup.csv", "Email,,Email,Email_2,Email\n1,x,2,3,4\n")
    stream, rows = read_all(path)
    assert stream.headers == ["Email", "Email_3", "Email_2", "Email_4"]
    # the value under the empty header is not lost
    assert rows[0][1] == {"Email": "1", "Email_3": "2", "Email_2": "3", "Email_4": "4", "_extra": "x"}


def test_clean_headers():
    assert clean_headers(["\ufeffA", " B ", "", "A", "a", "A"]) == (["A", "B", "A_2", "a", "A_3"], [0, 1, 3, 4, 5])


def test_ragged_rows(tmp_path):
    path = write(tmp_path, "ragged.csv", "Email,Name,City\na@x.com\nb@x.com,Bob,Paris,extra1,extra2\n")
    _, rows = read_all(path)
    assert rows[0] == (1, {"Email": "a@x.com", "Name": None, "City": None})
    assert rows[1] == (2, {"Email": "b@x.com", "Name": "Bob", "City": "Paris", "_extra": "extra1,extra2"})


def test_header_only_gives_no_records(tmp_path):
    stream, rows = read_all(write(tmp_path, "h.csv", "Email,Name\n"))
    assert rows == [] and stream.headers == ["Email", "Name"]


def test_five_megabyte_field(tmp_path):
    big = "x" * (5 * 1024 * 1024)
    _, rows = read_all(write(tmp_path, "big.csv", f'Email,Notes\na@x.com,"{big}"\n'))
    assert len(rows[0][1]["Notes"]) == len(big)


def test_utf8_with_late_bad_byte_names_the_row(tmp_path):
    body = b"Email,Name\n" + b"a@x.com,Ada\n" * 7000 + b"b@x.com,M\xfcller\n"
    assert len(body) > 64 * 1024
    stream = read_records(write(tmp_path, "late.csv", body))
    assert stream.encoding == "utf-8"
    with pytest.raises(InputError) as e:
        list(stream)
    assert e.value.row is not None and e.value.file.endswith("late.csv")
    assert "--encoding" in (e.value.hint or "")


def test_cp1252_undefined_bytes_do_not_fail(tmp_path):
    _, rows = read_all(write(tmp_path, "odd.csv", b"Email,Name\na@x.com,A\x81\x8d\x92\n"))
    assert rows[0][1]["Name"] == "A\x81\x8d\u2019"


def test_explicit_options(tmp_path):
    path = write(tmp_path, "opts.data", "Email;Name\na@x.com;Zoë\n".encode("latin-1"))
    stream, rows = read_all(path, fmt="csv", delimiter=";", encoding="latin-1")
    assert rows[0][1] == {"Email": "a@x.com", "Name": "Zoë"}
    with pytest.raises(UsageError):
        read_records(path, fmt="xml")
    with pytest.raises(UsageError):
        read_records(path, delimiter=";;")
    with pytest.raises(UsageError):
        read_records(path, encoding="klingon")
    stream = read_records(write(tmp_path, "tabs.csv", "a\tb\n1\t2\n"), delimiter="\\t")
    assert list(stream) == [(1, {"a": "1", "b": "2"})]


def test_stdin(monkeypatch):
    data = b"Email,Name\na@x.com,Ada\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    stream, rows = read_all("-")
    assert stream.name == "<stdin>" and rows == [(1, {"Email": "a@x.com", "Name": "Ada"})]
    assert stream.sha256 == hashlib.sha256(data).hexdigest()


def test_iterates_once(tmp_path):
    stream = read_records(write(tmp_path, "once.csv", "a\n1\n"))
    list(stream)
    with pytest.raises(RuntimeError):
        list(stream)


@pytest.mark.parametrize("line,expected", [
    ("a,b;c", ","), ("a;b;c,d", ";"), ("a\tb\tc", "\t"), ("a|b|c", "|"), ('"x,y,z";b;c', ";"), ("abc", ","),
])
def test_sniff_delimiter(line, expected):
    assert sniff_delimiter(line) == expected


# ------------------------------------------------------------------ preamble above the header

LINKEDIN_NOTES = (
    'Notes:\n"When exporting your connection data, you may notice that some of the email addresses are '
    'missing. You will only see email addresses for connections who have allowed their connections to see or '
    'download their email address using this setting https://www.linkedin.com/psettings/privacy/email. You can '
    'learn more here https://www.linkedin.com/help/linkedin/answer/261"\n\n'
)
LINKEDIN_HEADER = "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_linkedin_notes_are_a_preamble_and_row_numbers_stay_file_lines(tmp_path, newline):
    text = (LINKEDIN_NOTES + LINKEDIN_HEADER + "Ada,Lovelace,https://www.linkedin.com/in/ada,,Analytical,Engineer,"
            "15 Mar 2024\nAlan,Turing,https://www.linkedin.com/in/alan,alan@x.org,Bletchley,\"Cryptanalyst, Head\","
            "01 Jan 2023\n").replace("\n", newline)
    data = text.encode("utf-8")
    stream, rows = read_all(write(tmp_path, "Connections.csv", data))
    assert stream.preamble_lines == 3
    assert stream.headers == LINKEDIN_HEADER.strip().split(",")
    # row n is file line n + 1, as without a preamble: the header is line 4, Ada line 5
    assert [(n, r["First Name"]) for n, r in rows] == [(4, "Ada"), (5, "Alan")]
    assert rows[1][1]["Position"] == "Cryptanalyst, Head"
    assert stream.sha256 == hashlib.sha256(data).hexdigest()  # the notes are read and checksummed too


@pytest.mark.parametrize("name,data,preamble,headers,first", [
    # Excel's `sep=` line names the delimiter
    ("sep.csv", "sep=;\nEmail;Budget\na@x.com;12\n", 1, ["Email", "Budget"], (2, {"Email": "a@x.com", "Budget": "12"})),
    # notes padded to the table's width by a spreadsheet
    ("padded.csv", "Notes:,,,,\n\"blah, blah\",,,,\n,,,,\nEmail,Name,Company,Budget,Z\na@x.com,A,B,C,D\n", 3,
     ["Email", "Name", "Company", "Budget", "Z"], (4, {"Email": "a@x.com", "Name": "A", "Company": "B",
                                                       "Budget": "C", "Z": "D"})),
    # a title and a date, then a table whose headers leadctl does not know
    ("title.csv", "Leads export 2024\nGenerated by X\n\nFoo,Budget\nx,12\ny,13\n", 3, ["Foo", "Budget"],
     (4, {"Foo": "x", "Budget": "12"})),
    # a semicolon table below notes
    ("semi_notes.csv", "Export\n\nE-Mail;Vorname;Firma\na@x.de;Ada;X\n", 2, ["E-Mail", "Vorname", "Firma"],
     (3, {"E-Mail": "a@x.de", "Vorname": "Ada", "Firma": "X"})),
    # not a preamble: leading blank lines (skipped as before), a ragged first row, a one-column file
    ("blank_first.csv", "\n\nEmail,Name\na@x.com,Ada\n", 0, ["Email", "Name"],
     (1, {"Email": "a@x.com", "Name": "Ada"})),
    ("ragged.csv", "a,b,c\n1,2,3,4\n5,6,7,8\n", 0, ["a", "b", "c"], (1, {"a": "1", "b": "2", "c": "3", "_extra": "4"})),
    ("one_column.csv", "Budget\n12\n13\n", 0, ["Budget"], (1, {"Budget": "12"})),
    ("gap_in_header.csv", "Email,,Phone\na@x.com,,1\n", 0, ["Email", "Phone"], (1, {"Email": "a@x.com", "Phone": "1"})),
    ("unnamed_second_row.csv", "Email\nb@x.com,Name,Company\n", 0, ["Email"],
     (1, {"Email": "b@x.com", "_extra": "Name,Company"})),
])
def test_header_row_found_below_a_preamble(tmp_path, name, data, preamble, headers, first):
    stream, rows = read_all(write(tmp_path, name, data))
    assert stream.preamble_lines == preamble
    assert stream.headers == headers
    assert rows[0] == first


def test_a_header_deeper_than_the_window_is_not_searched_for(tmp_path):
    data = "note\n" * 30 + "Email,Name\na@x.com,Ada\n"
    stream, rows = read_all(write(tmp_path, "deep.csv", data))
    assert stream.preamble_lines == 0 and stream.headers == ["note"]


def test_an_error_in_a_header_below_a_preamble_names_its_line(tmp_path):
    path = write(tmp_path, "q.csv", 'Notes:\n\nEmail,"Name\n')
    with pytest.raises(InputError) as e:
        read_records(path)
    assert e.value.line == 3 and "unterminated quote" in e.value.message


def test_preamble_with_utf8_bom_and_utf16(tmp_path):
    data = codecs.BOM_UTF8 + (LINKEDIN_NOTES + LINKEDIN_HEADER + "Ada,L,https://www.linkedin.com/in/ada,,X,Y,"
                              "15 Mar 2024\n").encode("utf-8")
    stream, rows = read_all(write(tmp_path, "bom.csv", data))
    assert stream.preamble_lines == 3 and rows[0][0] == 4 and rows[0][1]["First Name"] == "Ada"
    data = (LINKEDIN_NOTES + LINKEDIN_HEADER + "Zoë,L,,z@x.org,X,Y,15 Mar 2024\n").encode("utf-16")
    stream, rows = read_all(write(tmp_path, "u16.csv", data))
    assert stream.preamble_lines == 3 and rows[0][1]["First Name"] == "Zoë"


# ------------------------------------------------------------------ failures

@pytest.mark.parametrize("name,data,message", [
    ("empty.csv", b"", "file is empty"),
    ("blank.csv", b"  \n\n", "file is empty"),
    ("garbage.csv", bytes(range(256)) * 16, "not a text file"),
    ("zeros.bin", b"\x00" * 5000, "not a text file"),
    ("truncated.json", b'[{"email": "a@x.com"}, {"email": "b@', "invalid JSON"),
    ("scalar.json", b"42", "single value"),
    ("string.json", b'"hello"', "single value"),
    ("nolist.json", b'{"email": "a@x.com", "n": 1}', "no list of records"),
    ("twolists.json", b'{"a": [{"x": 1}], "b": [{"y": 2}]}', "several lists"),
    ("nonobject.json", b'[{"email": "a@x.com"}, 3]', "item 2"),
    ("deep.json", b"[" + b'{"a":' * 1000 + b"1" + b"}" * 1000 + b"]", ""),
    ("deeplist.json", b"[" * 1000 + b"]" * 1000, ""),
    ("hugeint.json", b'[{"n": ' + b"9" * 5000 + b"}]", "invalid JSON"),
])
def test_unreadable_input_is_an_input_error(tmp_path, name, data, message):
    path = write(tmp_path, name, data)
    with pytest.raises(InputError) as e:
        stream = read_records(path)
        list(stream)
    assert message in e.value.message
    assert e.value.file == path


def test_truncated_json_gives_line_and_column(tmp_path):
    path = write(tmp_path, "t.json", '[\n {"email": "a@x.com"},\n {"email": ')
    with pytest.raises(InputError) as e:
        list(read_records(path))
    assert e.value.line == 3 and "column" in e.value.message


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_records(str(tmp_path / "nope.csv"))
    with pytest.raises(InputError, match="directory"):
        read_records(str(tmp_path))


# ------------------------------------------------------------------ JSON

@pytest.mark.parametrize("doc", [
    [{"email": "a@x.com"}],
    {"records": [{"email": "a@x.com"}]},
    {"data": [{"email": "a@x.com"}]},
    {"meta": {}, "tags": ["x"], "results": [{"email": "a@x.com"}]},
])
def test_json_shapes(tmp_path, doc):
    stream, rows = read_all(write(tmp_path, "d.json", json.dumps(doc)))
    assert stream.format == "json" and rows == [(1, {"email": "a@x.com"})]


def test_json_values_flattened_and_stringified(tmp_path):
    doc = [{"email": " a@x.com ", "address": {"city": "Paris", "geo": {"lat": 48.8}}, "tags": ["a", "b"],
            "optin": True, "off": False, "revenue": 1200, "float_int": 1200.0, "score": 3.5, "none": None,
            "empty": {}},
           {"email": "b@x.com", "late": "x"}]
    stream, rows = read_all(write(tmp_path, "n.json", json.dumps(doc)))
    assert rows[0][1] == {"email": "a@x.com", "address.city": "Paris", "address.geo.lat": "48.8",
                          "tags": '["a", "b"]', "optin": "true", "off": "false", "revenue": "1200",
                          "float_int": "1200", "score": "3.5", "none": None}
    assert stream.headers[-1] == "late" and stream.headers[0] == "email"


def test_json_headers_before_iteration(tmp_path):
    stream = read_records(write(tmp_path, "h.json", json.dumps([{"a": 1}, {"b": {"c": 2}}])))
    assert stream.headers == ["a", "b.c"]
    assert [n for n, _ in stream] == [1, 2]


def test_json_sniffed_without_extension(tmp_path):
    stream, rows = read_all(write(tmp_path, "data", '  [{"a": 1}]'))
    assert stream.format == "json" and rows == [(1, {"a": "1"})]


def test_json_utf16(tmp_path):
    stream, rows = read_all(write(tmp_path, "u.json", '[{"name": "Zoë"}]'.encode("utf-16")))
    assert rows == [(1, {"name": "Zoë"})]


# ------------------------------------------------------------------ JSON Lines

def test_jsonl_with_a_broken_line_goes_on(tmp_path):
    text = '{"email": "a@x.com"}\n\n{"email": "b@x.com"\n[1, 2]\n{"email": "c@x.com", "n": {"x": 1}}\n'
    stream, rows = read_all(write(tmp_path, "l.jsonl", text))
    assert stream.format == "jsonl"
    assert rows[0] == (1, {"email": "a@x.com"})
    assert rows[1][0] == 3 and isinstance(rows[1][1], BadRecord)
    assert rows[1][1].raw == '{"email": "b@x.com"' and "invalid JSON" in rows[1][1].reason
    assert rows[2][0] == 4 and isinstance(rows[2][1], BadRecord) and "array" in rows[2][1].reason
    assert rows[3] == (5, {"email": "c@x.com", "n.x": "1"})
    assert stream.headers == ["email", "n.x"]


def test_jsonl_sniffed_and_headers_lookahead(tmp_path):
    path = write(tmp_path, "events", '{"a": 1}\n{"b": 2}\n')
    stream = read_records(path)
    assert stream.format == "jsonl"
    assert stream.headers == ["a", "b"]
    assert list(stream) == [(1, {"a": "1"}), (2, {"b": "2"})]
    assert stream.sha256 == hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_single_object_without_list_is_json(tmp_path):
    with pytest.raises(InputError, match="no list of records"):
        list(read_records(write(tmp_path, "one", '{"a": 1}\n')))


# ------------------------------------------------------------------ generated and real files

def test_generated_leads_all_formats(tmp_path):
    gen = SHARED_DATA / "gen_leads.py"
    if not gen.exists():
        pytest.skip("shared data not present")
    import subprocess
    counts = {}
    for fmt in ("csv", "json", "jsonl"):
        out = subprocess.run([sys.executable, str(gen), "300", "--format", fmt], capture_output=True, check=True).stdout
        path = write(tmp_path, f"gen.{fmt}", out)
        stream, rows = read_all(path)
        counts[fmt] = len(rows)
        assert "Last Activity Date" in stream.headers
        assert any("\n" in (r.get("Notes") or "") for _, r in rows)
    assert counts == {"csv": 300, "json": 300, "jsonl": 300}


REAL_FILES = sorted((SHARED_DATA / "real").glob("*/*.csv")) if (SHARED_DATA / "real").exists() else []


@pytest.mark.parametrize("path", REAL_FILES or [None], ids=[p.name for p in REAL_FILES] or ["absent"])
def test_real_exports(path):
    if path is None:
        pytest.skip("shared real data not present beside the repository")
    stream, rows = read_all(str(path))
    assert stream.format == "csv" and stream.delimiter == ","
    assert rows and all(isinstance(r, dict) for _, r in rows)
    assert [n for n, _ in rows] == sorted(n for n, _ in rows)
    assert stream.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert "_extra" not in rows[0][1]


# ------------------------------------------------------------------ a few columns (the import's first pass)

CELLS_CASES = {
    "ragged": "Email,Name,City\na@x.com\nb@x.com,Bob,Paris,extra1,extra2\n",
    "blank rows": "Email,Name\na@x.com,Ada\n\n,\n  ,  \nb@x.com,Bob\n",
    "dropped columns": "Email,,Phone,Email\n1,x,2,3\n,y,,\n4\n",
    "quoted newlines": 'Email,Notes,Phone\n" A@X.com ","two\nlines",+33 1\nb@x.com,,"06 12"\n',
    "preamble": "Exported by LinkedIn\nNotes:\n\nFirst Name,Email Address\nAda,a@x.com\n",
    "json": '[{"Email": "a@x.com", "Phone": "1"}, {"Phone": "2"}, {}]',
    "jsonl": '{"Email": "a@x.com"}\nnot json\n{"Email": "b@x.com", "Phone": " 3 "}\n',
}


@pytest.mark.parametrize("text", CELLS_CASES.values(), ids=list(CELLS_CASES))
def test_cells_of_gives_the_named_columns_of_every_record(tmp_path, text):
    """A pass over a few columns sees each record iteration yields, with the same numbers and values
    (it may also see a row iteration skips as empty)."""
    name = "f.json" if text.startswith("[") else "f.jsonl" if "not json" in text else "f.csv"
    path = write(tmp_path, name, text)
    stream, rows = read_all(path)
    names = stream.headers
    cells = dict(read_records(path).cells_of(names))
    records = {n: r for n, r in rows if not isinstance(r, BadRecord)}
    assert records and set(records) <= set(cells)
    for number, record in records.items():
        assert cells[number] == [record.get(h) for h in names]
    for number in set(cells) - set(records):  # skipped by iteration: nothing in it
        assert not any(cells[number])


def test_cells_of_fails_where_iteration_fails(tmp_path):
    path = write(tmp_path, "late.csv", b"Email,Name\n" + b"a@x.com,Ada\n" * 7000 + b"b@x.com,M\xfcller\n")
    with pytest.raises(InputError) as whole:
        list(read_records(path))
    with pytest.raises(InputError) as few:
        list(read_records(path).cells_of(["Email"]))
    assert few.value.describe() == whole.value.describe()
