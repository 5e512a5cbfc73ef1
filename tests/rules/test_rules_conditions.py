"""The `when:` language: every operator, shorthand and combinator, against docs/rules.md."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from leadctl.errors import RulesError
from leadctl.rules.conditions import ALWAYS, OPERATORS, RuleTimeout, compile_condition
from leadctl.rules.durations import DurationError, format_duration, parse_duration

NOW = datetime(2026, 3, 1, 12, 0)

LEAD = {
    "email": "Ana@Acme.io", "phone": None, "first_name": "Ana", "last_name": "Ruiz",
    "company": "Acme", "title": "VP of Sales", "industry": "SaaS", "employees": 500,
    "annual_revenue": 12_000_000.0, "country": "DE", "city": "Berlin", "source": "Referral",
    "campaign": "", "stage": "mql", "temperature": "warm", "score": 55, "fit_score": 40,
    "engagement_score": 15, "grade": "A2", "owner": None, "team": None,
    "created_at": NOW - timedelta(days=10), "last_activity_at": NOW - timedelta(days=40),
    "last_contacted_at": None, "do_not_contact": False, "external_id": "00123",
    "attributes": {"budget": "50k-100k", "seats": "12", "trial": "yes", "score_text": "abc",
                   "renewal": "2026-06-30", "blank": "  "},
    "activity": {"demo_request": (2, NOW - timedelta(days=3)), "page_view": (7, NOW - timedelta(hours=5))},
}
BARE = {"email": None}  # nearly everything missing, no attributes, no activity


def ev(spec, lead=LEAD, now=NOW, mode="lead"):
    return compile_condition(spec, mode=mode)(lead, now)


CASES = [
    # shorthand: scalar = eq, list = in; case-insensitive and trimmed
    ({"industry": "saas"}, True), ({"industry": " SAAS "}, True), ({"industry": "Fintech"}, False),
    ({"country": ["fr", "de"]}, True), ({"country": ["FR", "GB"]}, False),
    ({"owner": "dana"}, False),
    # eq / ne with numbers and numeric strings
    ({"employees": {"eq": 500}}, True), ({"employees": {"eq": "500"}}, True),
    ({"attributes.seats": 12}, True), ({"attributes.seats": {"eq": 12.0}}, True),
    ({"external_id": "00123"}, True), ({"external_id": 123}, True),
    ({"industry": {"ne": "saas"}}, False), ({"industry": {"ne": "Retail"}}, True),
    ({"owner": {"ne": "dana"}}, True),                       # missing satisfies ne
    # gt/gte/lt/lte, numeric strings both ways
    ({"employees": {"gt": 499}}, True), ({"employees": {"gt": 500}}, False),
    ({"employees": {"gte": 500}}, True), ({"employees": {"lt": 500}}, False),
    ({"employees": {"lte": 500}}, True), ({"employees": {"gte": "200"}}, True),
    ({"attributes.seats": {"gte": 10}}, True), ({"attributes.seats": {"lt": 10}}, False),
    ({"attributes.score_text": {"gt": 1}}, False),            # not numeric: never compares
    ({"annual_revenue": {"gte": 10_000_000}}, True),
    ({"employees": {"gte": 100, "lte": 1000}}, True),          # several operators: all
    # between inclusive
    ({"employees": {"between": [500, 1000]}}, True), ({"employees": {"between": [100, 500]}}, True),
    ({"employees": {"between": [501, 1000]}}, False), ({"attributes.seats": {"between": [10, 50]}}, True),
    # in / not_in
    ({"industry": {"in": ["Fintech", "saas"]}}, True), ({"industry": {"not_in": ["SaaS"]}}, False),
    ({"owner": {"not_in": ["dana"]}}, True), ({"employees": {"in": [100, "500"]}}, True),
    ({"attributes.seats": {"in": [12, 13]}}, True), ({"industry": {"in": "SaaS"}}, True),
    # text operators
    ({"title": {"contains": "of sa"}}, True), ({"title": {"contains": "ceo"}}, False),
    ({"title": {"not_contains": "ceo"}}, True), ({"title": {"not_contains": "VP"}}, False),
    ({"owner": {"not_contains": "x"}}, True),
    ({"title": {"starts_with": "vp"}}, True), ({"title": {"ends_with": "SALES"}}, True),
    ({"title": {"starts_with": ["ceo", "vp"]}}, True), ({"title": {"contains": ["cto", "sales"]}}, True),
    ({"email": {"ends_with": "@acme.io"}}, True),
    # matches: regex as written (case-sensitive unless (?i)), search semantics
    ({"title": {"matches": r"\bVP\b"}}, True), ({"title": {"matches": r"\bvp\b"}}, False),
    ({"title": {"matches": r"(?i)\b(vp|head|director)\b"}}, True), ({"employees": {"matches": "^5"}}, True),
    # exists / missing (extension)
    ({"phone": {"exists": False}}, True), ({"phone": {"exists": True}}, False),
    ({"campaign": {"exists": False}}, True), ({"attributes.blank": {"exists": False}}, True),
    ({"title": {"exists": True}}, True), ({"attributes.nope": {"exists": False}}, True),
    ({"phone": {"missing": True}}, True), ({"email": {"missing": True}}, False),
    # booleans: true matches True and "true/yes/1"; yes/no written in YAML work too
    ({"do_not_contact": False}, True), ({"do_not_contact": True}, False),
    ({"do_not_contact": "no"}, True), ({"attributes.trial": True}, True),
    ({"attributes.trial": "Y"}, False),  # text vs text stays text
    # dates relative to now
    ({"created_at": {"within": "14d"}}, True), ({"created_at": {"within": "1w"}}, False),
    ({"created_at": {"older_than": "1w"}}, True), ({"created_at": {"older_than": "2w"}}, False),
    ({"last_activity_at": {"older_than": "30d"}}, True),
    ({"last_contacted_at": {"within": "30d"}}, False), ({"last_contacted_at": {"older_than": "30d"}}, False),
    ({"activity.page_view.last": {"within": "6h"}}, True), ({"activity.page_view.last": {"within": "4h"}}, False),
    ({"attributes.renewal": {"within": "1d"}}, True),          # the future counts as within
    ({"attributes.renewal": {"after": "2026-06-01"}}, True),
    # before / after compare days; with a datetime they compare instants
    ({"created_at": {"after": date(2026, 2, 18)}}, True), ({"created_at": {"after": date(2026, 2, 19)}}, False),
    ({"created_at": {"before": date(2026, 2, 20)}}, True), ({"created_at": {"before": date(2026, 2, 19)}}, False),
    ({"created_at": {"before": datetime(2026, 2, 19, 13, 0)}}, True),
    ({"created_at": {"after": datetime(2026, 2, 19, 13, 0)}}, False),
    ({"created_at": {"gte": date(2026, 2, 19)}}, True), ({"created_at": {"lt": date(2026, 2, 19)}}, False),
    ({"created_at": date(2026, 2, 19)}, True),
    # derived facts
    ({"email_domain": "ACME.io"}, True), ({"email_domain": ["gmail.com"]}, False),
    ({"days_since_created": {"between": [9.9, 10.1]}}, True), ({"days_since_activity": {"gte": 14}}, True),
    ({"days_since_contacted": {"gte": 0}}, False), ({"days_since_contacted": {"ne": 3}}, True),
    ({"activity.demo_request.count": {"gte": 1}}, True), ({"activity.webinar_attended.count": 0}, True),
    ({"activity.webinar_attended.count": {"gte": 1}}, False),
    # combinators, nested, beside field keys
    ({"all": [{"industry": "SaaS"}, {"country": "DE"}]}, True),
    ({"any": [{"industry": "Retail"}, {"country": "DE"}]}, True),
    ({"any": [{"industry": "Retail"}, {"country": "FR"}]}, False),
    ({"not": {"industry": "SaaS"}}, False), ({"not": {"owner": "x"}}, True),
    ({"industry": "SaaS", "not": {"email_domain": ["gmail.com", "yahoo.com"]}}, True),
    ({"industry": "SaaS", "any": [{"country": "FR"}]}, False),
    ({"any": [{"title": {"matches": "(?i)ceo"}}, {"all": [{"source": "Referral"},
                                                           {"not": {"email_domain": ["gmail.com"]}}]}]}, True),
    ({"all": []}, True), ({"any": []}, False),
    ([{"industry": "SaaS"}, {"country": "DE"}], True),          # a list means all
]


@pytest.mark.parametrize("spec,expected", CASES, ids=[str(c[0])[:60] for c in CASES])
def test_operator_table(spec, expected):
    assert ev(spec) is expected


MISSING_NEVER = ["eq", "gt", "gte", "lt", "lte", "in", "contains", "starts_with", "ends_with", "matches"]


@pytest.mark.parametrize("op", MISSING_NEVER)
@pytest.mark.parametrize("fieldname", ["title", "employees", "attributes.x", "city"])
def test_missing_value_never_satisfies(op, fieldname):
    arg = 5 if op in ("gt", "gte", "lt", "lte") or (fieldname == "employees" and op in ("eq", "in")) else "a"
    assert ev({fieldname: {op: arg}}, BARE) is False
    assert ev({fieldname: {op: arg}}, {**BARE, fieldname: None, "attributes": None}) is False


@pytest.mark.parametrize("op,arg", [("between", [1, 2]), ("within", "1d"), ("older_than", "1d"),
                                    ("before", "2030-01-01"), ("after", "2000-01-01")])
def test_missing_value_never_satisfies_ranges_and_dates(op, arg):
    assert ev({"attributes.when": {op: arg}}, BARE) is False
    assert ev({"last_contacted_at": {op: arg}} if op != "between" else {"score": {op: arg}}, BARE) is False


@pytest.mark.parametrize("op", ["ne", "not_in", "not_contains"])
def test_missing_value_always_satisfies_negations(op):
    assert ev({"title": {op: "x"}}, BARE) is True
    assert ev({"attributes.x": {op: ["x"] if op == "not_in" else "x"}}, BARE) is True


def test_no_when_is_always_and_condition_metadata():
    assert compile_condition(None) is ALWAYS and ALWAYS(BARE, NOW) is True
    spec = {"title": "x", "any": [{"attributes.budget": "y"}, {"activity.demo_request.count": {"gte": 1}}],
            "not": {"days_since_activity": {"gt": 3}}}
    cond = compile_condition(spec, label="R")
    assert cond.fields == {"title", "attributes.budget", "activity.demo_request.count", "days_since_activity"}
    assert cond.source is spec and cond.label == "R"
    assert cond.test(LEAD, NOW) is cond(LEAD, NOW)


def test_activity_mode_allows_any_field():
    rec = {"type": "page_view", "at": NOW - timedelta(days=1), "url": "https://x.io/Pricing?a=1", "note": None}
    assert ev({"url": {"contains": "/pricing"}}, rec, mode="activity") is True
    assert ev({"url": {"contains": "/demo"}}, rec, mode="activity") is False
    assert ev({"at": {"within": "2d"}, "type": "PAGE_VIEW"}, rec, mode="activity") is True
    assert ev({"utm_source": {"exists": False}}, rec, mode="activity") is True


def test_lead_without_attributes_or_activity():
    lead = {"email": "x@gmail.com", "attributes": None, "activity": None}
    assert ev({"attributes.budget": {"ne": "x"}}, lead) is True
    assert ev({"activity.demo.count": 0}, lead) is True
    assert ev({"activity.demo.last": {"exists": False}}, lead) is True
    assert ev({"email_domain": "gmail.com"}, lead) is True


ERRORS = [
    ({"title": {"greater": 5}}, "f.yaml:1: rule 'R': unknown operator 'greater' (did you mean 'gt'?)"),
    ({"title": {"containz": "x"}}, "f.yaml:1: rule 'R': unknown operator 'containz' (did you mean 'contains'?)"),
    ({"titel": "x"}, "f.yaml:1: rule 'R': unknown field 'titel' (did you mean 'title'?)"),
    ({"budget": "x"}, "f.yaml:1: rule 'R': unknown field 'budget' (custom fields are written attributes.budget)"),
    ({"attribute.budget": "x"},
     "f.yaml:1: rule 'R': unknown field 'attribute.budget' (did you mean 'attributes.budget'?)"),
    ({"activity.demo": 1}, "f.yaml:1: rule 'R': unknown field 'activity.demo' "
                           "(use activity.demo.count or activity.demo.last)"),
    ({"created_at": {"within": "14 days"}}, "f.yaml:1: rule 'R': field 'created_at': bad duration '14 days' "
                                             "(use 30m, 4h, 14d, 2w)"),
    ({"title": {"matches": "(a"}}, "f.yaml:1: rule 'R': field 'title': bad regex '(a': missing ) at position 2"),
    ({"employees": {"between": [50, 10]}}, "f.yaml:1: rule 'R': field 'employees': 'between' needs the smaller "
                                            "value first, got [50, 10]"),
    ({"employees": {"between": 5}}, "f.yaml:1: rule 'R': field 'employees': 'between' needs two values, like [10, 50]"),
    ({"employees": "many"}, "f.yaml:1: rule 'R': field 'employees' is a number; 'eq' got 'many'"),
    ({"employees": {"within": "3d"}}, "f.yaml:1: rule 'R': field 'employees': 'within' needs a date field such as "
                                       "created_at, last_activity_at or activity.<type>.last"),
    ({"created_at": {"after": "30d"}}, "f.yaml:1: rule 'R': field 'created_at': 'after' needs a date like "
                                        "2026-01-31, got '30d' (for a duration use within/older_than)"),
    ({"owner": None}, "f.yaml:1: rule 'R': field 'owner': null is not a value (use {exists: false})"),
    ({"title": {"exists": "maybe"}}, "f.yaml:1: rule 'R': field 'title': 'exists' needs true or false, got 'maybe'"),
    ({"any": {"x": 1} and 5}, "f.yaml:1: rule 'R': 'any' needs a list of conditions"),
    ("SaaS", "f.yaml:1: rule 'R': a condition must be a mapping like {field: value}, got 'SaaS'"),
    ({"title": {}}, "f.yaml:1: rule 'R': field 'title': no operator given (use one of "
                    + ", ".join(OPERATORS) + ")"),
]


@pytest.mark.parametrize("spec,message", ERRORS, ids=[m[:50] for _, m in ERRORS])
def test_compile_errors(spec, message):
    problems = []
    cond = compile_condition(spec, problems=problems, file="f.yaml", label="R", where=lambda p: 1)
    assert [str(p) for p in problems] == [message]
    assert cond(LEAD, NOW) is False  # a broken condition never holds


def test_all_errors_collected_with_lines():
    lines = {(): 10, ("a",): 11, ("employees",): 12, ("employees", "gte"): 13, ("any",): 14,
             ("any", 0): 15, ("any", 0, "titel"): 15}
    problems = []
    compile_condition({"a": 1, "employees": {"gte": "x"}, "any": [{"titel": 2}]}, problems=problems,
                      file="rules/s.yaml", label="X", where=lambda p: lines.get(tuple(p)))
    assert [str(p) for p in problems] == [
        "rules/s.yaml:11: rule 'X': unknown field 'a' (custom fields are written attributes.a)",
        "rules/s.yaml:13: rule 'X': field 'employees': 'gte' needs a number or a date, got 'x'",
        "rules/s.yaml:15: rule 'X': unknown field 'titel' (did you mean 'title'?)",
    ]


def test_without_problem_list_raises_rules_error():
    with pytest.raises(RulesError) as info:
        compile_condition({"titel": 1})
    assert "unknown field 'titel'" in str(info.value)


def test_catastrophic_regex_times_out_naming_the_rule():
    cond = compile_condition({"title": {"matches": "(a|aa)+$"}}, label="Evil", file="rules/scoring.yaml",
                             where=lambda p: 7)
    # Backtracking over 5000 characters would not end in any lifetime: raising at all is the proof.
    with pytest.raises(RuleTimeout) as info:
        cond({"title": "a" * 5000 + "b"}, NOW)
    assert "rule 'Evil'" in str(info.value) and info.value.file == "rules/scoring.yaml" and info.value.line == 7
    cond2 = compile_condition({"title": {"matches": "(a+)+$"}}, label="Nested")
    with pytest.raises(RuleTimeout, match="rule 'Nested'"):
        cond2({"title": "a" * 5000 + "b"}, NOW)


def test_durations():
    assert parse_duration("30m") == timedelta(minutes=30)
    assert parse_duration("4h") == timedelta(hours=4)
    assert parse_duration("14d") == timedelta(days=14)
    assert parse_duration("2w") == timedelta(weeks=2)
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration(" 1h30m ") == timedelta(minutes=90)
    assert parse_duration("1.5d") == timedelta(hours=36)
    for bad in ["", "30", 30, "3x", "d", "-1d", "1 day", None, True]:
        with pytest.raises(DurationError) as info:
            parse_duration(bad)
        assert info.value.message == f"bad duration '{bad}' (use 30m, 4h, 14d, 2w)"
        assert info.value.exit_code == 2
    assert format_duration(timedelta(minutes=90)) == "1h30m"


# ------------------------------------------------------------------- property test
FIELDS = ["title", "industry", "employees", "score", "created_at", "do_not_contact", "email_domain",
          "days_since_activity", "attributes.budget", "attributes.seats", "activity.demo.count",
          "activity.demo.last", "titel", "activity.x", 5]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
                    st.text(max_size=8), st.sampled_from(["14d", "2026-01-01", "12", "yes", "(a", "x+"]),
                    st.dates(), st.datetimes())
op_args = st.one_of(scalars, st.lists(scalars, max_size=3))
ops = st.sampled_from([*OPERATORS, "greater", "all"])
leaf = st.dictionaries(st.sampled_from(FIELDS), st.one_of(
    scalars, st.lists(scalars, max_size=3), st.dictionaries(ops, op_args, max_size=2)), max_size=2)
specs = st.recursive(leaf, lambda inner: st.one_of(
    st.builds(lambda x: {"all": x}, st.lists(inner, max_size=3)),
    st.builds(lambda x: {"any": x}, st.lists(inner, max_size=3)),
    st.builds(lambda x: {"not": x}, inner),
    st.builds(lambda a, b: {**a, **b}, inner, leaf)), max_leaves=8)
values = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(allow_nan=True),
                   st.text(max_size=10), st.sampled_from(["12", "2026-02-01", " ", "yes"]),
                   st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)), st.dates())
leads = st.fixed_dictionaries({}, optional={
    "title": values, "industry": values, "employees": values, "score": values, "email": values,
    "email_domain": values, "do_not_contact": values,
    "created_at": st.one_of(st.none(), st.datetimes(min_value=datetime(1900, 1, 1),
                                                    max_value=datetime(2200, 1, 1))),
    "last_activity_at": st.one_of(st.none(), st.datetimes(min_value=datetime(1900, 1, 1),
                                                          max_value=datetime(2200, 1, 1))),
    "attributes": st.one_of(st.none(), st.dictionaries(st.sampled_from(["budget", "seats"]), values)),
    "activity": st.one_of(st.none(), st.dictionaries(st.just("demo"), st.tuples(
        st.integers(0, 9), st.one_of(st.none(), st.datetimes(min_value=datetime(1900, 1, 1),
                                                             max_value=datetime(2200, 1, 1)))))),
})


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs, lead=leads)
def test_compile_and_evaluate_never_crash(spec, lead):
    problems = []
    cond = compile_condition(spec, problems=problems, file="f.yaml", label="P", where=lambda p: None)
    result = cond(lead, NOW)
    assert isinstance(result, bool)
    if problems:
        assert result is False
