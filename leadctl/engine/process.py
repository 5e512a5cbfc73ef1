"""Re-apply the rules to the store: scoring → qualification → routing → follow-ups.

    result = process_leads(store, rules, now=now)              # every lead
    result = process_leads(store, rules, now=now, lead_ids={1, 2})
    print(result.summary())   # processed 5,000 leads: 812 scores changed, 97 stage changes, 40 assigned, 120 tasks

Set-based: leads stream in chunks of CHUNK ordered by id, selecting only the
columns some rule reads; activity facts come in one grouped query per chunk (and
activity records only for the types an activity rule with `when` needs); rules run
in Python on plain dicts; only leads whose values changed are written, with one
executemany UPDATE and one executemany INSERT of stage history per chunk. Each chunk
commits on its own (a large run, below: every TXN_CHUNKS chunks), so a long run never
holds the write lock for long. A dry run
does everything on one connection in one transaction and rolls it back.

A run that evaluates most of a large SQLite store and writes most of its first chunk
sets aside the leads' indexes over the columns it writes (none of its per-chunk reads
uses them) and builds them once after the last chunk (store/indexes.py `set_aside`);
stage_stays' triggers too, counted again once at the end instead of out and in around
every chunk's stage changes (store/stays.py).
A lead's new `stages_entered` goes into the same UPDATE as its other columns.

Re-running with the same rules and clock changes nothing: a lead is written only
when a value or its explanation differs from what is stored (the explanation
starts with a fingerprint, `fp`, read from the first bytes of the stored text, so
unchanged leads cost no JSON decoding). Erased leads (`leads forget`) are left alone. With no scoring rules
at all, stored scores are left as they are (they may come from an import).

A run over every lead evaluates only the leads whose outcome can have changed since
the last such run (same rules and clock: leads written since, leads with new activities,
unassigned leads): `Plan` says which, and store/dirty.py how written leads are known.

Routing and follow-ups are steps (see engine/context.py for the contract).
"""
from __future__ import annotations

import copy
import dataclasses
import gc
import hashlib
import json
import time
from array import array
from collections import Counter, defaultdict
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from sqlalchemy import Text, and_, cast, func, or_, select, true, union

from ..fields import DAYS_SINCE
from ..model.step import PredictStep
from ..rules.loader import lead_conditions
from ..store import Batches, IdSet, bulk, dirty, in_parts, indexes
from ..store.db import get_meta, set_meta
from ..store.history import record_stage_changes
from ..store.models import Activity, Followup, Lead, Owner, StageChange
from ..words import activity_key
from .context import WRITABLE_COLUMNS, ProcessContext, Step
from .followups import CADENCE, FollowupStep
from .owners import terminal_stages
from .qualify import Qualifier
from .routing import RoutingStep
from .scoring import MEMO_SIZE, Scorer
from .sla import sla_check
from .sweepscan import ClockAges, clock_ages, in_windows, windows

if TYPE_CHECKING:
    from ..rules.loader import RuleSet

CHUNK = 5000
TXN_CHUNKS = 4    # chunks per transaction in a large run (100k first run: ~0.2 CPU s less than 1; all in one: more)
GC_GEN0 = 50_000  # allocations between collections of the youngest generation during a run (default 700)
# A run's SQLite page cache (the store's connections have 64 MiB, for an import's scattered index pages). A run reads
# and writes leads in id order: at 1M, import with processing peaked 42 MB lower with this, in the same time.
RUN_CACHE_KIB = 16_384
_RUN_PRAGMAS = {"cache_size": lambda own: -RUN_CACHE_KIB}  # each chunk transaction's (Store.begin)
# A run that evaluates at least SET_ASIDE_MIN leads and half the store, and whose first chunk
# writes half its leads, writes the leads' indexes over the columns it writes once at the end
# instead of row by row (store/indexes.py `set_aside`; 100k store: that UPDATE 5.5 -> 1.1 CPU s).
SET_ASIDE_MIN = indexes.MIN_ROWS
SET_ASIDE_SHARE = 2
FP_PREFIX = 32
LEADS = Lead.__table__
ACTS = Activity.__table__
HISTORY = StageChange.__table__
FOLLOWUPS = Followup.__table__
OWNERS = Owner.__table__
STATE_KEY = "process.state"   # what the last run over every lead saw (see `Plan`)
RUN_KEY = "process.run"       # the number of the last run, stamped on what it evaluated
DONE_KEY = "process.done"     # the number of the last run that finished (engine.remind trusts stamps up to it)

# Columns every chunk carries, whatever the rules read; STEP_COLUMNS too when a step runs.
BASE_COLUMNS = (
    "id", "email", "stage", "stage_changed_at", "temperature", "score", "fit_score", "engagement_score",
    "grade", "owner", "team", "assigned_at", "created_at", "last_activity_at",
)
STEP_COLUMNS = ("assigned_manually", "last_contacted_at", "do_not_contact")


@dataclass
class ProcessResult:
    """What a run did: `counts` holds leads, scored, scores_changed, stage_changes, updated …"""

    counts: Counter
    dry_run: bool = False
    seconds: float = 0.0
    changes: list = field(default_factory=list)

    @property
    def leads(self) -> int:
        return self.counts.get("leads", 0)

    def summary(self) -> str:
        c = self.counts
        parts = [f"{c.get('scores_changed', 0):,} scores changed", f"{c.get('stage_changes', 0):,} stage changes"]
        if "assigned" in c:
            parts.append(f"{c['assigned']:,} assigned")
        if "tasks_created" in c:
            parts.append(f"{c['tasks_created']:,} tasks")
        head = "would process" if self.dry_run else "processed"
        tail = " (dry run: nothing written)" if self.dry_run else ""
        return f"{head} {self.leads:,} lead{'s' if self.leads != 1 else ''}: " + ", ".join(parts) + tail

    def to_dict(self) -> dict:
        return {"dry_run": self.dry_run, "seconds": round(self.seconds, 3), **dict(sorted(self.counts.items()))}


# ---------------------------------------------------------------- what the rules read
def _condition_fields(rules: RuleSet) -> set[str]:
    """Every lead field any lead-mode condition of the rule set reads."""
    return {name for cond in lead_conditions(rules) for name in cond.fields}


def rules_digest(rules: RuleSet) -> int:
    """A number that changes whenever scoring, qualification or stages change."""
    text = repr(rules.scoring) + repr(rules.qualification) + repr(rules.stages)
    return int.from_bytes(hashlib.sha1(text.encode()).digest()[:6], "big")


def load_steps() -> list[Step]:
    """The steps of every run, in order: prediction (before scoring), routing (after the SLA check), follow-ups."""
    return [PredictStep(), RoutingStep(checks=[sla_check]), FollowupStep()]


# ---------------------------------------------------------------- which leads to evaluate
def run_digest(rules: RuleSet, steps: Sequence[Step]) -> str:
    """Changes whenever any rule file's content or the list of steps changes."""
    parts = [(f.name, getattr(rules, f.name)) for f in dataclasses.fields(rules)
             if f.name not in ("directory", "files_loaded")]
    text = repr((parts, [type(s).__qualname__ + str(getattr(s, "digest", "")) for s in steps]))  # digest: model.yaml
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _facts(conn) -> dict:
    """What besides a lead's own row decides its outcome: activities, cadence tasks, owners."""
    n, last = conn.execute(select(func.count(), func.max(ACTS.c.id))).one()
    cadence = conn.execute(select(func.count()).select_from(FOLLOWUPS).where(FOLLOWUPS.c.kind == CADENCE)).scalar()
    owners = [tuple(r) for r in conn.execute(select(OWNERS).order_by(OWNERS.c.id))]
    return {"activities": int(n or 0), "last_activity": int(last or 0), "cadence_tasks": int(cadence or 0),
            "owners": hashlib.sha1(repr(owners).encode()).hexdigest()[:16]}


class Plan:
    """Which leads a run evaluates, and the number it stamps on them (`leads.processed`).

    A run over every lead evaluates only the leads whose outcome can differ from the one
    stored, when the last such run had the same rules (`run_digest`) and a clock no later
    than this one: leads written since they were evaluated (`processed IS NULL`:
    store/dirty.py; logging, deleting or changing an activity marks its lead too) and — if
    any lead is evaluated and routing is on — unassigned leads in open stages (an
    assignment changes the owners' loads). When the clock moved forward, also the leads
    whose dates put one of the rules' clock thresholds between the two clocks
    (`engine.sweepscan.clock_ages`: `days_since_*`, `within`, `older_than`, engagement
    decay of leads with engagement points) and every unassigned lead in an open stage
    (owners come back from being away). Everything is evaluated again when the rules
    changed, the clock went back or the rules read it in a way no stored date tells, when
    activities were deleted, cadence tasks or owners changed by other means, or the store
    lacks the triggers. A run over some leads (`lead_ids`) evaluates those; with other
    rules or an earlier clock it voids the record, so the next full run evaluates
    everything; with a later clock it records that clock, and a full run before it
    evaluates everything.
    """

    def __init__(self, conn, rules: RuleSet, steps: Sequence[Step], now: datetime, *, every: bool):
        self.digest = run_digest(rules, steps)
        self.now = now.isoformat()
        self.every = every
        self.routing = any(isinstance(s, RoutingStep) for s in steps) and bool(
            rules.routing.owners or rules.routing.rules or rules.routing.fallback)
        self.terminal = sorted(terminal_stages(rules))
        raw = get_meta(conn, RUN_KEY)
        self.token = (int(raw) if raw and raw.isdigit() else 0) + 1
        set_meta(conn, RUN_KEY, str(self.token))
        state = None
        if dirty.installed(conn):
            text = get_meta(conn, STATE_KEY)
            state = json.loads(text) if text else None
        else:
            dirty.install(conn)  # stamps from before cannot be trusted: evaluate everything
            set_meta(conn, STATE_KEY, None)
        self.prev: datetime | None = None   # the last full run's clock, when earlier than this one
        self.ages: ClockAges | None = None
        self.state = self._usable(state, rules, steps, now)
        if not every and state is not None:
            if self.state is None:
                set_meta(conn, STATE_KEY, None)
            elif self.prev is not None:
                # Leads evaluated at this later clock: a full run at an earlier one cannot rely on them.
                ahead = max(self.now, state.get("ahead") or self.now)
                set_meta(conn, STATE_KEY, json.dumps({**state, "ahead": ahead}))
        self.incremental = False
        self.evaluated: list[int] | None = None   # an incremental run's leads, once known
        if every and self.state is not None:
            facts, st = _facts(conn), self.state
            added = conn.execute(select(func.count()).select_from(ACTS)
                                 .where(ACTS.c.id > st["last_activity"])).scalar() or 0
            self.incremental = (facts["activities"] == st["activities"] + added
                                and facts["cadence_tasks"] == st["cadence_tasks"] and facts["owners"] == st["owners"])

    def _usable(self, state: dict | None, rules: RuleSet, steps: Sequence[Step], now: datetime) -> dict | None:
        """The record of the last full run when this run can build on it (sets `prev` and `ages`)."""
        if not state or state.get("digest") != self.digest:
            return None
        if state.get("now") == self.now:
            return state
        try:
            prev = datetime.fromisoformat(state["now"])
            ahead = datetime.fromisoformat(state["ahead"]) if state.get("ahead") else prev
        except (KeyError, TypeError, ValueError):
            return None
        if now < prev or (self.every and now < ahead):
            return None
        if self.every:
            # Only steps whose clock reads are known: a model's features may read it in other ways.
            if any(not isinstance(s, (RoutingStep, FollowupStep)) and getattr(s, "digest", "") for s in steps) \
                    or any(type(s) not in (PredictStep, RoutingStep, FollowupStep) for s in steps):
                return None
            self.ages = clock_ages(rules, lead_conditions(rules))
            if self.ages is None:
                return None
        self.prev = prev
        return state

    def lead_ids(self, conn) -> list[int] | None:
        """The leads to evaluate (None: every lead); read after the steps started (an SLA check may write)."""
        if not self.incremental:
            return None
        live = LEADS.c.erased_at.is_(None)
        stale = select(LEADS.c.id).where(LEADS.c.processed.is_(None), live)
        acted = select(ACTS.c.lead_id).where(ACTS.c.id > (self.state or {}).get("last_activity", 0))
        ids = {i for (i,) in conn.execute(union(stale, acted))}
        moved = self.prev is not None and self.ages is not None
        if moved:
            ids |= self._clock_ids(conn)
        if (ids or moved) and self.routing:
            # Routing leaves unassigned leads in a won or lost stage alone (routing.Router.needs_routing).
            blank = or_(LEADS.c.owner.is_(None), func.trim(LEADS.c.owner) == "")
            open_ = or_(LEADS.c.stage.is_(None), LEADS.c.stage.not_in(self.terminal)) if self.terminal else true()
            ids.update(i for (i,) in conn.execute(select(LEADS.c.id).where(blank, live, open_)))
        self.evaluated = sorted(ids)
        return self.evaluated

    def _clock_ids(self, conn) -> set[int]:
        """Live leads whose dates put a clock threshold of the rules between the last run's clock and this one."""
        assert self.ages is not None and self.prev is not None
        return clock_lead_ids(conn, self.ages, self.prev, datetime.fromisoformat(self.now))

    def skipped(self, conn, evaluated: int) -> int:
        """How many live leads this run left alone."""
        n = conn.execute(select(func.count()).select_from(LEADS).where(LEADS.c.erased_at.is_(None))).scalar() or 0
        return max(0, n - evaluated)

    def record(self, conn) -> None:
        """After a run over every lead: what it saw, for the next run to compare with."""
        if self.every:
            state = {"digest": self.digest, "now": self.now, **_facts(conn)}
            set_meta(conn, STATE_KEY, json.dumps(state))


def clock_lead_ids(conn, ages: ClockAges, prev: datetime, now: datetime) -> set[int]:
    """Live leads whose dates put one of `ages` between `prev` and `now` (engine.sweepscan.clock_ages)."""
    live = LEADS.c.erased_at.is_(None)
    # Decay changes a lead's outcome only if it has engagement points: the stored explanation (what
    # evaluating it at `prev` gives) says; one without the figure is taken.
    raw = LEADS.c.explanation["engagement_raw"].as_float()
    engaged = or_(raw.is_(None), raw != 0)
    ids: set[int] = set()
    columns: list[tuple[Any, list, tuple]] = [(LEADS.c[col], windows(a, prev, now), ()) for col, a in ages.lead.items()]
    if ages.decay:
        spans = windows(ages.decay, prev, now)
        columns += [(LEADS.c.last_activity_at, spans, (engaged,)),
                    (LEADS.c.created_at, spans, (LEADS.c.last_activity_at.is_(None), engaged))]
    for col, spans, extra in columns:
        for i in range(0, len(spans), 100):   # each range one index lookup
            ranges = or_(*(col.between(lo, hi) for lo, hi in spans[i:i + 100]))
            ids.update(r for (r,) in conn.execute(select(LEADS.c.id).where(ranges, live, *extra)))
    newest = select(ACTS.c.lead_id, func.max(ACTS.c.at)).group_by(ACTS.c.lead_id, ACTS.c.type)
    for spans, decayed in ((windows(ages.activity_last, prev, now), False), (windows(ages.decay, prev, now), True)):
        if spans:
            # Newer than the first window's start: for the newest per type, that is all it takes.
            los = [lo for lo, _ in spans]
            found = {lid for lid, at in conn.execute(newest.where(ACTS.c.at >= spans[0][0]))
                     if in_windows(_dt(at), spans, los)} - ids
            if decayed:
                found = {lid for part in in_parts(sorted(found)) for (lid,) in
                         conn.execute(select(LEADS.c.id).where(LEADS.c.id.in_(part), engaged))}
            ids |= found
    spans = windows(ages.activity_any, prev, now)
    if spans:
        los = [lo for lo, _ in spans]
        every = select(ACTS.c.lead_id, ACTS.c.at).where(ACTS.c.at >= spans[0][0], ACTS.c.at <= spans[-1][1])
        ids.update(lid for lid, at in conn.execute(every) if in_windows(_dt(at), spans, los))
    return ids


def _dt(value: Any) -> datetime | None:
    """A stored time as a naive datetime (an aggregate may come back as text)."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


class Pipeline:
    """The rule set compiled for one run: what to select, and how to compute a chunk."""

    def __init__(self, rules: RuleSet, now: datetime, steps: Sequence[Step]):
        self.rules = rules
        self.now = now
        self.steps = list(steps)
        for step in self.steps:  # optional: a step that plans its reads from the rules (the model file)
            getattr(step, "bind", _skip)(rules)
        self.scorer = Scorer(rules.scoring)
        self.score_on = not (self.scorer.empty and rules.scoring.grades is None)
        self.qualifier = Qualifier(rules.qualification, rules.stages)
        self.digest = rules_digest(rules)
        fields = _condition_fields(rules)
        cols = list(BASE_COLUMNS) + (list(STEP_COLUMNS) if self.steps else [])
        self.attributes = False
        self.agg_types: set[str] | None = set()   # None = every type
        for f in fields:
            if f.startswith("attributes."):
                self.attributes = True
            elif f.startswith("activity."):
                parts = f.split(".")
                if len(parts) == 3 and self.agg_types is not None:
                    self.agg_types.add(parts[1])
            elif f in DAYS_SINCE:
                cols.append(DAYS_SINCE[f])
            elif f in LEADS.c:
                cols.append(f)
        self.agg_types |= self.scorer.count_types if self.agg_types is not None else set()
        self.writes = list(WRITABLE_COLUMNS)
        for step in self.steps:
            cols.extend(c for c in getattr(step, "columns", ()) if c in LEADS.c)
            self.writes.extend(c for c in getattr(step, "writes", ()) if c in LEADS.c and c not in self.writes)
            if getattr(step, "needs_activity", False):
                self.agg_types = None
            if "attributes" in getattr(step, "columns", ()):
                self.attributes = True
        if "attributes" in cols:
            cols.remove("attributes")
            self.attributes = True
        self.columns = list(dict.fromkeys(cols))
        self.record_types = set(self.scorer.record_types)
        self.need_aggregates = self.agg_types is None or bool(self.agg_types)
        self._raw_types: dict[str, list[str]] | None = None
        self._norm: dict[str, str] = {}
        self._fps: dict[tuple, str] = {}
        self._explained: dict[tuple, dict] = {}
        self._documents: dict[str, Any] = {}

    # -- reading
    def select(self):
        cols = [LEADS.c[c] for c in self.columns]
        if self.attributes:
            # As text, decoded by `attributes_of`: a store holds few distinct documents (100k leads: 741).
            cols.append(cast(LEADS.c.attributes, Text).label("attributes"))
        # The stored explanation starts with its fingerprint ({"fp": "…", …}); reading a
        # prefix is much cheaper than decoding (or JSON_EXTRACT-ing) the whole document.
        cols.append(func.substr(cast(LEADS.c.explanation, Text), 1, FP_PREFIX).label("_fp"))
        return select(*cols).where(LEADS.c.erased_at.is_(None)).order_by(LEADS.c.id)

    def attributes_of(self, leads: list[dict]) -> None:
        """Decode each lead's `attributes` text (as read by `select`): {} when there is none."""
        # Each distinct text is decoded once; every lead still gets its own objects, as decoding
        # gives: a flat document (scalar values: the usual case) is copied, any other deep-copied.
        docs = self._documents
        for lead in leads:
            text = lead["attributes"]
            if text is None:
                lead["attributes"] = {}
                continue
            hit = docs.get(text)
            if hit is None:
                if len(docs) >= MEMO_SIZE:
                    docs.clear()
                doc = json.loads(text)
                flat = type(doc) is dict and all(type(v) in _SCALARS for v in doc.values())
                hit = docs[text] = (doc, flat)
            doc, flat = hit
            lead["attributes"] = dict(doc) if flat else {} if doc is None else copy.deepcopy(doc)

    def raw_types(self, conn) -> dict[str, list[str]]:
        """Normalised activity type → the spellings stored (one DISTINCT query per run)."""
        if self._raw_types is None:
            out: dict[str, list[str]] = defaultdict(list)
            for (t,) in conn.execute(select(ACTS.c.type).distinct()):
                if t is not None:
                    out[activity_key(t)].append(t)
            self._raw_types = dict(out)
        return self._raw_types

    def _lead_filter(self, col, ids: list[int], ranged: bool):
        if ranged:
            return and_(col >= ids[0], col <= ids[-1])
        return col.in_(ids)

    def load_activity(self, conn, leads: list[dict], ranged: bool) -> dict[int, dict]:
        """Fill lead["activity"]; return activity records by lead id and type for `when` rules."""
        for lead in leads:
            lead["activity"] = {}
        if not leads or not (self.need_aggregates or self.record_types):
            return {}
        ids = [lead["id"] for lead in leads]
        by_id = {lead["id"]: lead for lead in leads}
        raw = self.raw_types(conn)
        norm = self._norm
        if self.need_aggregates:
            stmt = (select(ACTS.c.lead_id, ACTS.c.type, func.count(), func.max(ACTS.c.at))
                    .where(self._lead_filter(ACTS.c.lead_id, ids, ranged)).group_by(ACTS.c.lead_id, ACTS.c.type))
            if self.agg_types is not None:
                wanted = [t for n in self.agg_types for t in raw.get(activity_key(n), ())]
                stmt = stmt.where(ACTS.c.type.in_(wanted)) if wanted else None
            if stmt is not None:
                for lead_id, typ, n, last in conn.execute(stmt):
                    lead = by_id.get(lead_id)
                    if lead is None:
                        continue
                    key = norm.get(typ)
                    if key is None:
                        key = norm[typ] = activity_key(typ)
                    agg = lead["activity"]
                    if key in agg:
                        n0, l0 = agg[key]
                        agg[key] = (n0 + n, l0 if (last is None or (l0 is not None and l0 >= last)) else last)
                    else:
                        agg[key] = (n, last)
        records: dict[int, dict] = {}
        if self.record_types:
            wanted = [t for n in self.record_types for t in raw.get(n, ())]
            if wanted:
                stmt = (select(ACTS.c.lead_id, ACTS.c.type, ACTS.c.at, ACTS.c.note, ACTS.c.source, ACTS.c.fields)
                        .where(self._lead_filter(ACTS.c.lead_id, ids, ranged), ACTS.c.type.in_(wanted)))
                for lead_id, typ, at, note, source, flds in conn.execute(stmt):
                    rec = dict(flds) if flds else {}
                    rec.update(type=typ, at=at, note=note, source=source)
                    key = norm.get(typ)
                    if key is None:
                        key = norm[typ] = activity_key(typ)
                    records.setdefault(lead_id, {}).setdefault(key, []).append(rec)
        return records

    # -- computing
    def compute(self, ctx: ProcessContext, leads: list[dict], records: dict[int, dict]) -> list[dict]:
        """Score and qualify the chunk in place; return the stage history rows."""
        now = self.now
        history = []
        scorer, qualifier = self.scorer, self.qualifier
        counts = ctx.counts
        digest = self.digest
        fps = self._fps
        # Explanations are shared within a chunk (its one write encodes each once); kept longer,
        # a million leads with decay (idle days differ) would hold hundreds of MB of them.
        self._explained.clear()
        for lead in leads:
            lid = lead["id"]
            if self.score_on:
                res = scorer.score(lead, records.get(lid, {}), now)
                if res.score != lead["score"]:
                    counts["scores_changed"] += 1
                if res.grade != lead["grade"]:
                    counts["grade_changes"] += 1
                lead["score"] = res.score
                lead["fit_score"] = res.fit_score
                lead["engagement_score"] = res.engagement_score
                lead["grade"] = res.grade
            else:
                res = None
            temp, temp_rule, temp_idx = qualifier.temperature(lead, now)
            if temp != lead["temperature"]:
                counts["temperature_changes"] += 1
                lead["temperature"] = temp
            move = qualifier.stage(lead, now)
            if move is not None and move.applied:
                history.append({"lead_id": lid, "from_stage": lead["stage"], "to_stage": move.to,
                                "at": now, "cause": "rule", "detail": move.detail, "batch_id": None})
                ctx.note_change(lid, stage=[lead["stage"], move.to], rule=move.rule)
                lead["stage"] = move.to
                lead["stage_changed_at"] = now
                counts["stage_changes"] += 1
            lead["_explanation"] = (res, temp, temp_rule, move)
            # res is shared by every lead of its fired set (Scorer memo), so is its fingerprint.
            fkey = (res, temp_idx, -1 if move is None else move.index)
            fp = fps.get(fkey)
            if fp is None:
                sig = (digest, *(res.sig if res is not None else ()), *fkey[1:])
                fp = fps[fkey] = format(hash(sig) & 0xFFFFFFFFFFFF, "x")
            lead["_fp"] = fp
        counts["scored"] += len(leads) if self.score_on else 0
        if len(fps) >= MEMO_SIZE:
            fps.clear()
        return history

    def stored_explanation(self, lead: dict, stamp: str) -> dict:
        """What `leads.explanation` stores for a computed lead: one dict per distinct outcome, shared."""
        key = (lead["_explanation"], lead["_fp"])
        if key[0][0] is None:  # no scoring rules: the stored score and grade are part of it
            key += (lead["score"], lead["grade"])
        try:
            hit = self._explained.get(key)
        except TypeError:  # an unhashable stage or temperature value
            return {"fp": lead["_fp"], **explanation(lead, self.digest), "at": stamp}
        if hit is None:
            hit = self._explained[key] = {"fp": lead["_fp"], **explanation(lead, self.digest), "at": stamp}
        return hit


def explanation(lead: dict, digest: int) -> dict:
    """The stored explanation of a computed lead (scoring breakdown, temperature and stage rules)."""
    res, temp, temp_rule, move = lead["_explanation"]
    if res is not None:
        expl = res.breakdown()
    else:
        expl = {"score": lead["score"], "grade": lead["grade"], "scoring": "no scoring rules"}
    expl["temperature"] = temp
    expl["temperature_rule"] = temp_rule
    expl["stage_rule"] = None if move is None else {"rule": move.rule, "to": move.to, "detail": move.detail}
    expl["digest"] = format(digest, "x")
    return expl


def _stored_fp(prefix: str | None) -> str | None:
    if prefix and prefix.startswith('{"fp": "'):
        end = prefix.find('"', 8)
        if end > 8:
            return prefix[8:end]
    return None


def _getter(writes: list[str], keys) -> Callable[[dict], tuple]:
    """lead → tuple of its `writes` values (itemgetter when every column was selected)."""
    if len(writes) > 1 and all(c in keys for c in writes):
        return itemgetter(*writes)
    return lambda lead: tuple(lead.get(c) for c in writes)


def _skip(*args) -> None:
    return None


def _stamp(conn, token: int, leads: list[dict], ranged: bool) -> None:
    """Mark the chunk's leads as evaluated by this run (those written above already are)."""
    col = LEADS.c.id
    where = (and_(col >= leads[0]["id"], col <= leads[-1]["id"], LEADS.c.erased_at.is_(None)) if ranged
             else col.in_([lead["id"] for lead in leads]))
    conn.execute(LEADS.update().where(where, LEADS.c.processed.is_distinct_from(token)).values(processed=token))


@contextmanager
def _same(conn):
    yield conn


def run_pipeline(ctx: ProcessContext, pipeline: Pipeline, txn: Callable[[], Any], *,
                 lead_ids: Iterable[int] | None = None,
                 observe: Callable[[list[tuple], list[dict]], None] | None = None,
                 plan: Plan | None = None) -> None:
    """The chunk loop. `txn()` gives a context manager yielding a connection in a transaction.

    With a `plan`, every lead evaluated is stamped with its run number, and a run over
    every lead evaluates only the plan's leads."""
    ids = _ascending(lead_ids) if lead_ids is not None else None
    with txn() as conn:
        ctx.conn = conn
        for step in pipeline.steps:
            step.start(ctx)
        if plan is not None and ids is None:
            ids = plan.lead_ids(conn)
        large = plan is not None and _large(conn, ids)
    with ExitStack() as aside:
        _chunks(ctx, pipeline, txn, ids, plan, observe, aside if large else None)
    with txn() as conn:
        ctx.conn = conn
        for step in pipeline.steps:
            step.finish(ctx)


def _ascending(lead_ids: Iterable[int]) -> Sequence[int]:
    """The ids once each, ascending, 8 bytes an id (an import's million leads: 8 MB, where a list takes ~35)."""
    return array("q", lead_ids if isinstance(lead_ids, IdSet) else sorted(set(lead_ids)))


def _large(conn, ids: Sequence[int] | None) -> bool:
    """Whether a run evaluating `ids` (None: every lead) covers at least half of a large SQLite store."""
    if conn.dialect.name != "sqlite":
        return False  # PostgreSQL keeps its indexes
    held = conn.execute(select(func.max(LEADS.c.id))).scalar() or 0  # no count(*) scan of a big table
    evaluated = held if ids is None else len(ids)
    return evaluated >= SET_ASIDE_MIN and evaluated * SET_ASIDE_SHARE >= held


def _chunks(ctx: ProcessContext, pipeline: Pipeline, txn: Callable[[], Any], ids: Sequence[int] | None,
            plan: Plan | None, observe: Callable[[list[tuple], list[dict]], None] | None,
            aside: ExitStack | None) -> None:
    """Evaluate and write chunk after chunk; with `aside`, after a first chunk that wrote half its
    leads, set aside the leads' indexes the writes keep in order (none of the chunk's reads uses them)
    and stage_stays' triggers (one recount at the end: 100k first run ~0.4 CPU s less)."""
    now = pipeline.now
    writes = pipeline.writes
    base = pipeline.select()
    last_id = None
    pos = 0
    update_keys = (*writes, "explanation", "updated_at", *(("processed",) if plan else ()), "id")
    stamp_of = (plan.token,) if plan else ()
    stamp = now.isoformat(timespec="seconds")
    # A large run commits every TXN_CHUNKS chunks, not every chunk: fewer commits and WAL checkpoints.
    batches = Batches(txn, TXN_CHUNKS) if aside is not None else None
    chunk_txn = batches if batches is not None else txn
    try:
        while True:
            with chunk_txn() as conn:
                ctx.conn = conn
                if ids is None:
                    stmt = base if last_id is None else base.where(LEADS.c.id > last_id)
                    rows = conn.execute(stmt.limit(CHUNK))
                    ranged = True
                else:
                    part = ids[pos: pos + CHUNK]
                    pos += CHUNK
                    if not part:
                        break
                    rows = conn.execute(base.where(LEADS.c.id.in_(list(part))))
                    ranged = False
                keys = list(rows.keys())
                leads = [dict(zip(keys, r)) for r in rows]
                if not leads:
                    if ids is None or pos >= len(ids):
                        break
                    continue
                last_id = leads[-1]["id"]
                if pipeline.attributes:
                    pipeline.attributes_of(leads)
                ctx.counts["leads"] += len(leads)
                values = _getter(writes, keys)
                before = [values(lead) for lead in leads]
                fps = [_stored_fp(lead.pop("_fp")) for lead in leads]
                records = pipeline.load_activity(conn, leads, ranged)
                for step in pipeline.steps:  # optional: a step whose values scoring and qualification read
                    getattr(step, "before", _skip)(ctx, leads)
                history = pipeline.compute(ctx, leads, records)
                for step in pipeline.steps:
                    step.chunk(ctx, leads)
                params = []
                for lead, old, fp in zip(leads, before, fps):
                    new_fp = lead["_fp"]
                    new = values(lead)
                    if new != old or fp != new_fp:
                        # fp first: the next run reads it from the text's first bytes.
                        expl = pipeline.stored_explanation(lead, stamp)
                        params.append((*new, expl, now, *stamp_of, lead["id"]))
                entered: dict[int, str | None] = {}
                if history:
                    # Before the lead rows: a relinked lead's write of stages_entered would otherwise clear their
                    # new stamp. The others' stages_entered go into the lead rows' UPDATE (no second write of them).
                    record_stage_changes(conn, history, entered=entered)
                if params or entered:
                    _write(conn, params, update_keys, entered)
                    ctx.counts["updated"] += len(params)
                if plan is not None:
                    _stamp(conn, plan.token, leads, ranged)
                if observe is not None:
                    observe(before, leads)
                written = len(params)
            if aside is not None:
                if written * SET_ASIDE_SHARE >= len(leads):
                    names = indexes.written_by((*update_keys, "stages_entered"))
                    if batches is not None:
                        batches.flush()  # the indexes go in a transaction of their own
                    aside.enter_context(indexes.set_aside(txn, names, triggers=True))
                aside = None
            if ids is not None and pos >= len(ids):
                break
    finally:
        if batches is not None:
            batches.flush()


_ABSENT = object()
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _write(conn, params: list[tuple], keys: tuple[str, ...], entered: dict[int, str | None]) -> None:
    """The chunk's lead rows (`keys` order, id last), with their new `stages_entered` where they have one."""
    if not entered:
        bulk.update_by_id(conn, LEADS, params, keys)
        return
    plain, moved = [], []
    for p in params:
        text = entered.pop(p[-1], _ABSENT)
        if text is _ABSENT:
            plain.append(p)
        else:
            moved.append((*p[:-1], text, p[-1]))
    bulk.update_by_id(conn, LEADS, plain, keys)
    bulk.update_by_id(conn, LEADS, moved, (*keys[:-1], "stages_entered", "id"))
    if entered:  # a lead whose history grew while its row stayed the same: not from this pipeline's stage rules
        bulk.update_by_id(conn, LEADS, [(text, lid) for lid, text in entered.items()], ("stages_entered", "id"))


def process_leads(store, rules: RuleSet, *, now: datetime, lead_ids: Iterable[int] | None = None, dry_run: bool = False,
                  steps: Sequence[Step] | None = None,
                  observe: Callable[[list[tuple], list[dict]], None] | None = None) -> ProcessResult:
    """Score, qualify, route and schedule follow-ups for every lead (or only `lead_ids`).

    `steps` overrides the routing/follow-up steps found by `load_steps()`; `observe(before,
    after)` is called per chunk with the snapshot of the writable columns (`Pipeline.writes`)
    and the updated lead dicts — `rules diff` uses it.
    """
    with _collections_spaced():
        return _process(store, rules, now, lead_ids, dry_run, steps, observe)


@contextmanager
def _collections_spaced():
    """Around a run: the cyclic garbage collector's youngest generation collected every GC_GEN0
    allocations instead of every 700 (the default), then as before."""
    # A run allocates a few dicts and tuples per lead and keeps each chunk alive while it works:
    # at the default threshold the collector walks those live chunks again and again (100k first
    # run: ~15 % of its CPU). Nothing a run makes needs the cycle collector soon.
    before = gc.get_threshold()
    gc.set_threshold(max(GC_GEN0, before[0]), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _process(store, rules: RuleSet, now: datetime, lead_ids: Iterable[int] | None, dry_run: bool,
             steps: Sequence[Step] | None, observe: Callable[[list[tuple], list[dict]], None] | None) -> ProcessResult:
    """`process_leads`, under the collector pacing its caller set."""
    started = time.perf_counter()
    pipeline = Pipeline(rules, now, load_steps() if steps is None else steps)
    ctx = ProcessContext(conn=None, rules=rules, now=now, dry_run=dry_run)
    if lead_ids is not None and not lead_ids:
        return ProcessResult(ctx.counts, dry_run, time.perf_counter() - started)
    if dry_run:
        with store.connect() as conn:
            trans = conn.begin()
            try:
                run_pipeline(ctx, pipeline, lambda: _same(conn), lead_ids=lead_ids, observe=observe)
            finally:
                trans.rollback()
    else:
        with store.begin() as conn:
            plan = Plan(conn, rules, pipeline.steps, now, every=lead_ids is None and observe is None)
        run_pipeline(ctx, pipeline, lambda: store.begin(_RUN_PRAGMAS), lead_ids=lead_ids, observe=observe, plan=plan)
        if plan.every:
            with store.begin() as conn:
                plan.record(conn)
                if plan.incremental:
                    # The summary counts every lead; those left alone are unchanged by definition.
                    skipped = plan.skipped(conn, ctx.counts["leads"])
                    ctx.counts["leads"] += skipped
                    ctx.counts["unchanged_skipped"] = skipped
        with store.begin() as conn:
            set_meta(conn, DONE_KEY, str(plan.token))
            from .segments import refresh_segments  # membership of rules/segments.yaml, set-wise

            refresh_segments(conn, rules, now, evaluated=plan.evaluated if lead_ids is None else lead_ids)
    return ProcessResult(ctx.counts, dry_run, time.perf_counter() - started, list(ctx.changes))
