"""Typed rule objects, one model per rule file (see docs/rules.md).

Models are Pydantic v2, frozen, with `extra="forbid"` so a misspelt key is an error.
`when:` values arrive here already compiled into `Condition` objects (the loader
compiles them first, because only it knows file names and lines); so every
`when` field is a `Condition` (`ALWAYS` when left out).

Extensions to the reference format (docs/rules.md lists them), each something a user would expect:
* engagement `decay` may be stepwise: `{steps: [{after: 30d, factor: 0.5}, {after: 90d, factor: 0}]}`
  (multiply engagement points by the factor of the last step reached since last activity);
* SLA `then` may list both actions: `then: [reassign, notify]` (always stored as a tuple);
* business-hour `days` accept full day names (`Monday`), stored as mon..sun;
* routing `fallback` may name a team with a strategy, like a rule's `assign`.
"""
from __future__ import annotations

import re
import zoneinfo
from datetime import date, time, timedelta
from functools import lru_cache
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from leadctl.errors import UsageError
from leadctl.rules.conditions import ALWAYS, Condition
from leadctl.rules.durations import DurationError, parse_duration
from leadctl.words import did_you_mean


# ---------------------------------------------------------------- shared field types
def _number(v: Any) -> Union[int, float]:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"must be a number, got {v!r}")
    if v != v or v in (float("inf"), float("-inf")):
        raise ValueError(f"must be a finite number, got {v!r}")
    return v


def _duration(v: Any) -> timedelta:
    try:
        return parse_duration(v)
    except DurationError as exc:
        raise ValueError(exc.message) from None


def _text(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError(f"must be text, got {v!r}")
    v = v.strip()
    if not v:
        raise ValueError("must not be empty")
    return v


def _condition(v: Any) -> Condition:
    if v is None:
        return ALWAYS
    if isinstance(v, Condition):
        return v
    raise ValueError("conditions are compiled by the loader")  # pragma: no cover


Number = Annotated[Union[int, float], BeforeValidator(_number)]
Duration = Annotated[timedelta, BeforeValidator(_duration)]
Text = Annotated[str, BeforeValidator(_text)]
When = Annotated[Condition, BeforeValidator(_condition)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True,
                              populate_by_name=False)


class _File(_Model):
    version: int = 1

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, v):
        if v != 1 or isinstance(v, bool):
            raise ValueError(f"unsupported version {v!r} (this leadctl reads version 1)")
        return v


def _norm(value: str) -> str:
    return " ".join(str(value).split()).casefold()


# ---------------------------------------------------------------- stages.yaml
class Stage(_Model):
    name: Text
    label: Optional[Text] = None
    kind: Optional[Literal["won", "lost"]] = None
    aliases: tuple[Text, ...] = ()

    @property
    def display(self) -> str:
        return self.label or self.name

    @property
    def terminal(self) -> bool:
        return self.kind is not None


DEFAULT_STAGES = (
    {"name": "new"}, {"name": "mql", "label": "Marketing qualified"},
    {"name": "sql", "label": "Sales qualified"}, {"name": "opportunity"},
    {"name": "customer", "kind": "won", "aliases": ("Closed - Converted", "Won", "Converted")},
    {"name": "lost", "kind": "lost", "aliases": ("Closed - Not Converted", "Lost", "Dead")},
    {"name": "disqualified", "kind": "lost", "aliases": ("Junk Lead", "Unqualified")},
)


def _unique_names(items, noun: str):
    """Every name and alias names one item only (compared case-insensitively, trimmed)."""
    seen: dict[str, str] = {}
    for item in items:
        for word in (item.name, *item.aliases):
            k = _norm(word)
            if k in seen and seen[k] != item.name:
                raise ValueError(f"'{word}' names two {noun}s ('{seen[k]}' and '{item.name}')")
            seen[k] = item.name
    return items


def _alias_lookup(items) -> dict[str, str]:
    """Normalised name or alias → canonical name; names win over another item's alias."""
    lookup = {}
    for item in items:
        lookup[_norm(item.name)] = item.name
        for a in item.aliases:
            lookup.setdefault(_norm(a), item.name)
    return lookup


class LostReason(_Model):
    """Why a lead was lost: a name (what is stored), a display label and aliases (other systems' values)."""

    name: Text
    label: Optional[Text] = None
    aliases: tuple[Text, ...] = ()

    @property
    def display(self) -> str:
        return self.label or self.name


DEFAULT_LOST_REASONS = (
    {"name": "no_budget", "label": "No budget", "aliases": ("Too expensive", "Price", "Budget")},
    {"name": "no_decision_maker", "label": "No decision maker"},
    {"name": "chose_competitor", "label": "Chose a competitor", "aliases": ("Competitor", "Lost to competitor")},
    {"name": "no_response", "label": "No response", "aliases": ("Unresponsive", "No contact", "Not responsive")},
    {"name": "not_a_fit", "label": "Not a fit", "aliases": ("Not interested", "Bad fit", "Not qualified")},
    {"name": "duplicate", "label": "Duplicate"},
    {"name": "bad_data", "label": "Bad data", "aliases": ("Invalid contact", "Wrong contact details")},
)


class StagesConfig(_File):
    """Funnel stages in order; `resolve` maps names and aliases (any case) to names."""

    stages: tuple[Stage, ...] = Field(default_factory=lambda: tuple(Stage(**s) for s in DEFAULT_STAGES))
    allow_backward: bool = False
    # The catalogue a lost lead's reason comes from (`leads stage LEAD lost --reason`, imports, rules).
    lost_reasons: tuple[LostReason, ...] = Field(
        default_factory=lambda: tuple(LostReason(**r) for r in DEFAULT_LOST_REASONS))
    _lookup: dict = PrivateAttr(default_factory=dict)
    _reasons: dict = PrivateAttr(default_factory=dict)

    @field_validator("lost_reasons")
    @classmethod
    def _check_reasons(cls, reasons):
        if not reasons:
            raise ValueError("needs at least one reason (leave the key out for the default catalogue)")
        return _unique_names(reasons, "lost reason")

    def lost_reason(self, value: Any) -> Optional[LostReason]:
        """The catalogue reason a name, label or alias (any case, trimmed) names, else None."""
        if value is None:
            return None
        name = self._reasons.get(_norm(value))
        return next((r for r in self.lost_reasons if r.name == name), None) if name else None

    def check_lost_reason(self, value: str) -> str:
        """The reason's name; UsageError listing the catalogue for an unknown one."""
        found = self.lost_reason(value)
        if found is None:
            names = tuple(r.name for r in self.lost_reasons)
            raise UsageError(f"unknown lost reason '{value}'{did_you_mean(str(value), names)}",
                             hint="lost reasons (stages.yaml lost_reasons): " + ", ".join(names))
        return found.name

    @field_validator("stages")
    @classmethod
    def _check(cls, stages):
        if not stages:
            raise ValueError("needs at least one stage")
        _unique_names(stages, "stage")
        if all(s.terminal for s in stages):
            raise ValueError("needs at least one open stage (without kind: won/lost)")
        return stages

    def model_post_init(self, _ctx) -> None:
        self._lookup = _alias_lookup(self.stages)
        self._reasons = _alias_lookup(self.lost_reasons)
        for r in self.lost_reasons:
            if r.label:
                self._reasons.setdefault(_norm(r.label), r.name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages)

    def resolve(self, value: Any) -> Optional[str]:
        """Canonical stage name for a name or alias (case-insensitive, trimmed), else None."""
        if value is None:
            return None
        return self._lookup.get(_norm(value))

    def get(self, name: str) -> Stage:
        canonical = self.resolve(name)
        if canonical is None:
            raise UsageError(f"unknown stage '{name}'{did_you_mean(str(name), self.names)}",
                             hint="stages: " + ", ".join(self.names))
        return next(s for s in self.stages if s.name == canonical)

    def index(self, name: str) -> int:
        """Position in the funnel of a stage name or alias; UsageError if unknown."""
        return self.names.index(self.get(name).name)

    def is_terminal(self, name: str) -> bool:
        return self.get(name).terminal

    @property
    def won(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages if s.kind == "won")

    @property
    def lost(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages if s.kind == "lost")

    @property
    def open_stages(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages if s.kind is None)

    @property
    def first(self) -> str:
        return self.open_stages[0]


# ---------------------------------------------------------------- scoring.yaml
class ScoreRule(_Model):
    name: Text
    when: When = ALWAYS
    points: Number
    activity: Optional[Text] = None   # count activities of this type; `when` then tests the activity
    each: bool = False                # points per matching activity ...
    max: Optional[Number] = None      # ... capped at this many points

    @model_validator(mode="after")
    def _check(self):
        if self.each and not self.activity:
            raise ValueError("'each: true' needs 'activity: <type>' (it counts activities)")
        if self.max is not None and not self.each:
            raise ValueError("'max' caps points per occurrence; it needs 'each: true'")
        if self.max is not None and self.points and (self.max < 0) != (self.points < 0):
            raise ValueError("'max' must have the same sign as 'points'")
        return self


class DecayStep(_Model):
    after: Duration
    factor: Number

    @field_validator("factor")
    @classmethod
    def _factor(cls, v):
        if not 0 <= v <= 1:
            raise ValueError(f"must be between 0 and 1, got {v!r}")
        return v


class Decay(_Model):
    """Engagement decay by time since last activity: a half-life or steps (one of them)."""

    half_life: Optional[Duration] = None
    steps: Optional[tuple[DecayStep, ...]] = None

    @model_validator(mode="after")
    def _one(self):
        if (self.half_life is None) == (self.steps is None):
            raise ValueError("decay needs either 'half_life: 30d' or 'steps: [{after: 30d, factor: 0.5}]'")
        if self.half_life is not None and self.half_life <= timedelta(0):
            raise ValueError("'half_life' must be longer than 0")
        if self.steps is not None:
            if not self.steps:
                raise ValueError("'steps' needs at least one step")
            afters = [s.after for s in self.steps]
            if afters != sorted(afters) or len(set(afters)) != len(afters):
                raise ValueError("decay steps must be in increasing 'after' order")
        return self

    def factor(self, idle: timedelta) -> float:
        """Multiplier for engagement points after `idle` time without activity."""
        if idle <= timedelta(0):
            return 1.0
        if self.half_life is not None:
            return 0.5 ** (idle / self.half_life)
        f = 1.0
        for step in self.steps or ():
            if idle >= step.after:
                f = float(step.factor)
        return f


class ScoreGroup(_Model):
    max: Optional[Number] = None
    rules: tuple[ScoreRule, ...] = ()


class EngagementGroup(ScoreGroup):
    decay: Optional[Decay] = None


class Total(_Model):
    min: Optional[Number] = None
    max: Optional[Number] = None

    @model_validator(mode="after")
    def _order(self):
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"'min' ({self.min}) is above 'max' ({self.max})")
        return self


def _str_keys(v):
    return {str(k): val for k, val in v.items()} if isinstance(v, dict) else v


GradeTable = Annotated[dict[str, Number], BeforeValidator(_str_keys)]


class Grades(_Model):
    """Letter by fit points and digit by engagement points: grade = fit + engagement, e.g. "A1"."""

    fit: GradeTable
    engagement: GradeTable

    @field_validator("fit", "engagement")
    @classmethod
    def _nonempty(cls, v):
        if not v:
            raise ValueError("needs at least one grade, e.g. {A: 40, B: 20, C: 0}")
        return v

    @staticmethod
    def pick(table: dict[str, float], points: float) -> str:
        """The grade with the highest threshold ≤ points (the lowest grade if below all)."""
        ordered = sorted(table.items(), key=lambda kv: kv[1], reverse=True)
        for grade, threshold in ordered:
            if points >= threshold:
                return grade
        return ordered[-1][0]

    def grade(self, fit_points: float, engagement_points: float) -> str:
        return self.pick(self.fit, fit_points) + self.pick(self.engagement, engagement_points)


class ScoringConfig(_File):
    fit: ScoreGroup = ScoreGroup()
    engagement: EngagementGroup = EngagementGroup()
    total: Total = Total()
    grades: Optional[Grades] = None

    @property
    def rules(self) -> tuple[ScoreRule, ...]:
        return self.fit.rules + self.engagement.rules


# ---------------------------------------------------------------- qualification.yaml
class Temperature(_Model):
    name: Text
    when: When = ALWAYS


class StageRule(_Model):
    to: Text
    when: When = ALWAYS
    name: Optional[Text] = None
    reason: Optional[Text] = None
    # A rule to a lost stage may name the catalogue's reason (stages.yaml lost_reasons); `rules check`
    # refuses an unknown one. It is kept with the stage change like `reason` (before it, when both are given).
    lost_reason: Optional[Text] = None

    @model_validator(mode="after")
    def _lost_reason_in_detail(self):
        if self.lost_reason and not (self.reason or "").startswith(self.lost_reason):
            text = self.lost_reason + (f": {self.reason}" if self.reason else "")
            object.__setattr__(self, "reason", text)
        return self

    @property
    def label(self) -> str:
        return self.name or f"to {self.to}"


class QualificationConfig(_File):
    temperature: tuple[Temperature, ...] = ()
    stages: tuple[StageRule, ...] = ()


# ---------------------------------------------------------------- routing.yaml
@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _timezone(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ValueError(f"must be a time zone name like Europe/Berlin, got {v!r}")
    name = v.strip()
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone '{name}'{did_you_mean(name, _zones())}") from None
    return name


TimeZone = Annotated[str, BeforeValidator(_timezone)]


class Away(_Model):
    from_: date = Field(alias="from")
    to: date

    @model_validator(mode="after")
    def _order(self):
        if self.to < self.from_:
            raise ValueError(f"'to' ({self.to}) is before 'from' ({self.from_})")
        return self


class Owner(_Model):
    name: Text
    email: Optional[Text] = None
    team: Optional[Text] = None
    timezone: TimeZone = "UTC"
    capacity: Optional[int] = Field(default=None, ge=0)  # open leads at most; None = unlimited
    weight: Number = 1
    active: bool = True
    away: tuple[Away, ...] = ()

    @field_validator("weight")
    @classmethod
    def _weight(cls, v):
        if v < 0:
            raise ValueError(f"must be 0 or more, got {v!r}")
        return v

    def is_away(self, on: date) -> bool:
        return any(a.from_ <= on <= a.to for a in self.away)

    def available(self, on: date) -> bool:
        """Active and not away on that day (capacity is the router's business)."""
        return self.active and not self.is_away(on)


Strategy = Literal["round_robin", "weighted", "least_loaded"]


class Assign(_Model):
    """Either one owner, or a team and a strategy (default round_robin)."""

    owner: Optional[Text] = None
    team: Optional[Text] = None
    strategy: Optional[Strategy] = None

    @model_validator(mode="after")
    def _one(self):
        if (self.owner is None) == (self.team is None):
            raise ValueError("needs either 'owner: <name>' or 'team: <name>' (with a strategy)")
        if self.owner is not None and self.strategy is not None:
            raise ValueError("'strategy' goes with 'team', not 'owner'")
        if self.team is not None and self.strategy is None:
            object.__setattr__(self, "strategy", "round_robin")
        return self


def _actions(v):
    return (v,) if isinstance(v, str) else v


def _count(v):
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"must be a whole number, got {v!r}")
    return v


class SlaRule(_Model):
    name: Text
    when: When = ALWAYS
    within: Duration
    then: Annotated[tuple[Literal["reassign", "notify"], ...], BeforeValidator(_actions)]
    # How often SLA checks may take a lead from its owner; past that the rule only notifies.
    max_reassignments: Annotated[int, Field(ge=0, le=100), BeforeValidator(_count)] = 1

    @field_validator("then")
    @classmethod
    def _some(cls, v):
        if not v:
            raise ValueError("needs reassign or notify")
        return tuple(dict.fromkeys(v))


class RoutingRule(_Model):
    name: Text
    when: When = ALWAYS
    assign: Assign


class RoutingConfig(_File):
    owners: tuple[Owner, ...] = ()
    rules: tuple[RoutingRule, ...] = ()
    fallback: Optional[Assign] = None
    sla: tuple[SlaRule, ...] = ()

    @property
    def teams(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(o.team for o in self.owners if o.team))

    def owner(self, name_or_email: str) -> Optional[Owner]:
        key = _norm(name_or_email)
        for o in self.owners:
            if _norm(o.name) == key or (o.email and _norm(o.email) == key):
                return o
        return None

    def members(self, team: str) -> tuple[Owner, ...]:
        return tuple(o for o in self.owners if o.team and _norm(o.team) == _norm(team))


# ---------------------------------------------------------------- followups.yaml
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _day(v):
    if isinstance(v, str):
        key = v.strip().lower()[:3]
        if key in DAYS and (len(v.strip()) == 3 or v.strip().lower().startswith(key)):
            return key
    raise ValueError(f"unknown day {v!r} (use mon, tue, wed, thu, fri, sat, sun)")


_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _clock(v):
    if isinstance(v, time):
        return v
    if isinstance(v, str) and (m := _HHMM.match(v.strip())):
        return time(int(m.group(1)), int(m.group(2)))
    if isinstance(v, str) and v.strip() in ("24:00",):
        return time(23, 59, 59, 999999)
    raise ValueError(f"must be a time like \"09:00\", got {v!r}")


class BusinessHours(_Model):
    days: tuple[Annotated[str, BeforeValidator(_day)], ...] = DAYS[:5]
    start: Annotated[time, BeforeValidator(_clock)] = time(9, 0)
    end: Annotated[time, BeforeValidator(_clock)] = time(17, 0)

    @model_validator(mode="after")
    def _check(self):
        if not self.days:
            raise ValueError("'days' needs at least one day")
        if self.start >= self.end:
            raise ValueError(f"'start' ({self.start:%H:%M}) must be before 'end' ({self.end:%H:%M})")
        object.__setattr__(self, "days", tuple(d for d in DAYS if d in self.days))
        return self

    @property
    def weekdays(self) -> frozenset[int]:
        """Python weekday numbers (Monday = 0) that are business days."""
        return frozenset(DAYS.index(d) for d in self.days)


class CadenceStep(_Model):
    after: Duration
    action: Text
    note: Optional[Text] = None


class Cadence(_Model):
    name: Text
    when: When = ALWAYS
    steps: tuple[CadenceStep, ...]
    stop_when: Optional[When] = None

    @field_validator("steps")
    @classmethod
    def _steps(cls, v):
        if not v:
            raise ValueError("needs at least one step")
        return v


class InactivityRule(_Model):
    name: Text
    when: When
    action: Text
    note: Optional[Text] = None


class ContactLimit(_Model):
    """At most `max` touches of a lead in any `per`, over every cadence (`channel`: of that channel only)."""

    max: int = Field(ge=1)
    per: Duration
    channel: Optional[Literal["email", "phone", "sms"]] = None

    @field_validator("per")
    @classmethod
    def _positive(cls, v):
        if v <= timedelta(0):
            raise ValueError("must be a positive duration, like 7d")
        return v


def _quiet_hours(v: Any):
    """`"20:00-08:00"` → (start, end) local times; the range may cross midnight."""
    if not isinstance(v, str) or v.count("-") != 1:
        raise ValueError(f"must be a range like \"20:00-08:00\", got {v!r}")
    start, end = (_clock(p.strip()) for p in v.split("-"))
    if start == end:
        raise ValueError("start and end must differ")
    return (start, end)


class FollowupsConfig(_File):
    business_hours: BusinessHours = BusinessHours()
    cadences: tuple[Cadence, ...] = ()
    inactivity: tuple[InactivityRule, ...] = ()
    # Contact limits per lead across all cadences, and hours no one is contacted (engine/limits.py).
    limits: tuple[ContactLimit, ...] = ()
    quiet_hours: Optional[Annotated[tuple[time, time], BeforeValidator(_quiet_hours)]] = None


# ---------------------------------------------------------------- sources.yaml
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _costs(v):
    if not isinstance(v, dict):
        return v
    out = {}
    for k, val in v.items():
        if not isinstance(k, str) or not _MONTH.match(k):
            raise ValueError(f"cost months are written YYYY-MM (like 2026-01), got {str(k)!r}")
        out[k] = val
    return out


class Source(_Model):
    name: Text
    channel: Optional[Text] = None
    aliases: tuple[Text, ...] = ()
    cost: Annotated[dict[str, Number], BeforeValidator(_costs)] = Field(default_factory=dict)

    @field_validator("cost")
    @classmethod
    def _positive(cls, v):
        for month, amount in v.items():
            if amount < 0:
                raise ValueError(f"cost for {month} must be 0 or more, got {amount!r}")
        return v


class SourcesConfig(_File):
    sources: tuple[Source, ...] = ()
    _lookup: dict = PrivateAttr(default_factory=dict)

    @field_validator("sources")
    @classmethod
    def _check(cls, sources):
        return _unique_names(sources, "source")

    def model_post_init(self, _ctx) -> None:
        self._lookup = _alias_lookup(self.sources)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.sources)

    def resolve(self, value: Any) -> Optional[str]:
        """Canonical source name for a name or alias (case-insensitive, trimmed), else None."""
        if value is None:
            return None
        return self._lookup.get(_norm(value))

    def get(self, name: str) -> Optional[Source]:
        canonical = self.resolve(name)
        return next((s for s in self.sources if s.name == canonical), None) if canonical else None


# ---------------------------------------------------------------- segments.yaml
class Segment(_Model):
    """A named set of leads (engine/segments.py): `--segment NAME` filters commands, rules test `segment: NAME`."""

    name: Text
    when: When
    description: Optional[Text] = None


class SegmentsConfig(_File):
    segments: tuple[Segment, ...] = ()


FILE_MODELS: dict[str, type[_File]] = {
    "stages.yaml": StagesConfig,
    "scoring.yaml": ScoringConfig,
    "qualification.yaml": QualificationConfig,
    "routing.yaml": RoutingConfig,
    "followups.yaml": FollowupsConfig,
    "sources.yaml": SourcesConfig,
    "segments.yaml": SegmentsConfig,
}
