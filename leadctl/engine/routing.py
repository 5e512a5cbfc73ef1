"""Routing: who gets which lead, and why (routing.yaml, see docs/rules.md).

    router = Router.load(conn, rules, now)
    decision = router.route(lead)        # Decision(owner, team, rule, strategy, reason)
    router.save(conn)                    # rotation state and owners' last assignment

`RoutingStep` runs this inside `process` (engine/process.py): it routes every open
(non-terminal) lead that has no owner, and every open lead of an owner who is now
inactive or removed from routing.yaml — unless a person assigned it by hand
(`leads assign`): rules never undo a manual assignment; only an SLA reassignment does.

Rules are tried in order; the first whose `when` holds *and* has someone able to take
the lead wins. Able = active, not away at `now` (dates inclusive, the owner's time
zone) and below capacity (open leads = leads not in a won/lost stage; counted once
per run, kept in memory). When no rule can place the lead the fallback is tried; when
even that cannot, the lead stays unassigned and the reason is recorded.

Strategies, all deterministic, their state stored in `meta` so it carries across runs
and imports of any size:
* round_robin — the next able member after the last one chosen (member order of routing.yaml);
* weighted — smooth weighted round robin (nginx's): every able member gains its weight,
  the highest total wins and pays back the sum of weights; over n leads each member is
  within one lead of n × weight / total;
* least_loaded — fewest open leads; ties go to the longest idle (oldest last assignment).

Every decision is stored in `assignments` with its reason, e.g.
"rule 'Enterprise EMEA' → team emea → least_loaded → dana (12/40 open)" or
"rule 'Enterprise EMEA': no capacity in team emea (dana 40/40, lee 30/30) → fallback queue".
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.engine import Connection

from ..clock import naive_utc
from ..errors import NotFoundError
from ..store import bulk
from ..store.db import get_meta, set_meta
from ..store.models import Assignment, Lead
from ..words import did_you_mean
from .leadref import resolve_lead
from .owners import (
    availability,
    away_until,
    key,
    open_loads,
    queue_names,
    stored_owners,
    sync_owners,
    terminal_stages,
    touch_owners,
)

if TYPE_CHECKING:
    from ..rules.loader import RuleSet

ASSIGNMENTS = Assignment.__table__
LEADS = Lead.__table__
META_PREFIX = "routing."
_SHOWN = 4  # members named in a "nobody available" reason
_REFUSALS_MAX = 4096  # remembered "nobody available" texts per run


@dataclass
class Decision:
    """Where a lead goes. `owner` is None when nobody could take it (then `reason` says why)."""

    owner: str | None
    team: str | None
    rule: str | None
    strategy: str | None
    reason: str


class _Member:
    """One owner as the router sees it during a run."""

    __slots__ = ("name", "key", "team", "capacity", "weight", "open", "usable", "why_not", "idle", "queue")

    def __init__(self, name, team, capacity, weight, open_count, usable, why_not, idle, queue=False):
        self.name, self.key, self.team = name, key(name), team
        self.capacity, self.weight, self.open = capacity, weight, open_count
        self.usable, self.why_not, self.idle, self.queue = usable, why_not, idle, queue

    def can_take(self) -> bool:
        return self.usable and (self.capacity is None or self.open < self.capacity)

    def load(self) -> str:
        return f"{self.open}/{self.capacity} open" if self.capacity is not None else f"{self.open} open"

    def refusal(self) -> str:
        if not self.usable:
            return f"{self.name} {self.why_not}"
        return f"{self.name} full {self.open}/{self.capacity}"


class Router:
    """Routing rules compiled for one clock, with loads and rotation state in memory."""

    def __init__(self, rules: RuleSet, now: datetime, loads: dict[str, int], stored: list[dict[str, Any]],
                 state: dict[str, Any]):
        self.rules = rules
        self.routing = rules.routing
        self.now = now
        self.terminal = terminal_stages(rules)
        loads = _fold(loads)
        last = {key(r["name"]): naive_utc(r["last_assigned_at"]) for r in stored}
        self.members: dict[str, _Member] = {}
        for o in self.routing.owners:
            # Leads may name their owner by e-mail (imports accept either): both count.
            n = loads.get(key(o.name), 0) + (loads.get(key(o.email), 0) if o.email else 0)
            text, _ = availability(o, n, now)
            usable = o.active and away_until(o, now) is None
            self.members[key(o.name)] = _Member(o.name, o.team, o.capacity, float(o.weight), n, usable,
                                                text, (last.get(key(o.name)) or datetime.min, 0))
        for name in queue_names(rules):
            self.members.setdefault(key(name), _Member(name, None, None, 1.0, loads.get(key(name), 0), True,
                                                       "available", (datetime.min, 0), queue=True))
        listed = {key(o.name) for o in self.routing.owners}
        # Owners whose open leads go back to routing: inactive ones and those removed from routing.yaml.
        self.gone: dict[str, str] = {}
        for o in self.routing.owners:
            if not o.active:
                self.gone[key(o.name)] = "inactive"
                if o.email:
                    self.gone[key(o.email)] = "inactive"
        for r in stored:
            if key(r["name"]) not in listed:
                self.gone[key(r["name"])] = "removed"
        self.state = state
        self._dirty: set[str] = set()
        self._seq = 0
        self.touched: dict[str, datetime] = {}
        self._teams: dict[str, list[_Member]] = {}
        for m in self.members.values():
            if m.team and not m.queue:
                self._teams.setdefault(key(m.team), []).append(m)
        # Lookups by name or e-mail (leads may name their owner either way).
        self._by_key: dict[str, _Member] = dict(self.members)
        for o in self.routing.owners:
            if o.email:
                self._by_key.setdefault(key(o.email), self.members[key(o.name)])
        self._targets: dict[int, tuple] = {}
        self._refusals: dict[tuple, str] = {}
        self._plan = [(r.when.test, r.name, self._target(r.assign)) for r in self.routing.rules]
        self._fallback = self._target(self.routing.fallback) if self.routing.fallback is not None else None

    @classmethod
    def load(cls, conn: Connection, rules: RuleSet, now: datetime) -> "Router":
        """Open loads (one grouped query), stored owners and rotation state for one run."""
        state = {}
        for strategy in ("round_robin", "weighted"):
            for team in rules.routing.teams:
                k = _state_key(strategy, team)
                raw = get_meta(conn, k)
                if raw is not None:
                    state[k] = json.loads(raw)
        return cls(rules, now, open_loads(conn, rules), stored_owners(conn), state)

    def save(self, conn: Connection) -> None:
        """Persist changed rotation state and the owners' last assignment times."""
        for k in sorted(self._dirty):
            set_meta(conn, k, json.dumps(self.state[k], sort_keys=True))
        self._dirty.clear()
        touch_owners(conn, sorted(self.touched.items()))
        self.touched.clear()

    def owner_key(self, owner: str | None) -> str:
        """The key of the owner a lead names (by name or e-mail), for `route(exclude=…)`."""
        m = self._by_key.get(key(owner))
        return m.key if m is not None else key(owner)

    # -- which leads
    def needs_routing(self, lead: dict) -> str | None:
        """Why the lead should be (re)routed — "unassigned", "owner sam inactive" … — or None."""
        if lead.get("stage") in self.terminal:
            return None
        owner = lead.get("owner")
        if owner is None or not str(owner).strip():
            return "unassigned"
        gone = self.gone.get(key(owner))
        if gone and not lead.get("assigned_manually"):
            return f"owner {owner} {gone}"
        return None

    # -- deciding
    def _target(self, assign) -> tuple:
        """(kind, member or team members, team, strategy, state key) for an `assign:`, built once."""
        t = self._targets.get(id(assign))
        if t is None:
            if assign.owner is not None:
                m = self.members.get(key(assign.owner))
                if m is None:  # named but neither listed nor a queue (rules were checked; be safe)
                    m = self.members.setdefault(key(assign.owner), _Member(
                        assign.owner, None, None, 1.0, 0, True, "available", (datetime.min, 0), True))
                t = ("owner", m, None, "owner", None)
            else:
                strategy = assign.strategy or "round_robin"
                t = ("team", self._teams.get(key(assign.team), []), assign.team, strategy,
                     _state_key(strategy, assign.team))
            self._targets[id(assign)] = t
        return t

    def route(self, lead: dict, *, exclude: str | None = None) -> Decision:
        """The first rule (then the fallback) with someone able to take the lead; loads move on."""
        now = self.now
        refusals: list[str] = []
        for test, name, target in self._plan:
            if not test(lead, now):
                continue
            picked, path = self._pick(target, exclude)
            if picked is not None:
                return self._take(lead, picked, name, target[3], f"rule '{name}' → {path}")
            refusals.append(f"rule '{name}': {path}")
        head = "; ".join(refusals) if refusals else "no rule matched"
        fb = self._fallback
        if fb is None:
            return Decision(None, None, None, None, f"{head} → no fallback → unassigned")
        picked, path = self._pick(fb, exclude)
        if picked is not None:
            return self._take(lead, picked, "fallback", fb[3], f"{head} → fallback {path}")
        return Decision(None, None, "fallback", fb[3], f"{head} → fallback: {path} → unassigned")

    def _take(self, lead: dict, m: _Member, rule: str, strategy: str, reason: str) -> Decision:
        owner = lead.get("owner")
        if owner:
            old = self._by_key.get(key(owner))
            if old is not None and old is not m and lead.get("stage") not in self.terminal and old.open > 0:
                old.open -= 1
        self._seq += 1
        m.idle = (self.now, self._seq)
        self.touched[m.name] = self.now
        return Decision(m.name, m.team, rule, strategy, reason)

    def _pick(self, target: tuple, exclude: str | None) -> tuple[_Member | None, str]:
        """(member, "team emea → least_loaded → dana (12/40 open)") or (None, why nobody)."""
        kind, who, team, strategy, state_key = target
        if kind == "owner":
            m = who
            if m.key == exclude:
                return None, f"{m.name} is the owner being replaced"
            if not (m.usable and (m.capacity is None or m.open < m.capacity)):
                return None, m.refusal()
            m.open += 1
            return m, (m.name if m.queue else f"{m.name} ({m.load()})")
        able = [m for m in who if m.usable and (m.capacity is None or m.open < m.capacity) and m.key != exclude]
        if strategy == "weighted":
            able = [m for m in able if m.weight > 0]
        if not able:
            # Once a team is full every lead its rule matches is refused with the same text: the
            # text depends only on the members' loads (their names, capacity and availability do
            # not change during a run), so it is built once per state of those loads.
            k = (id(who), team, exclude, tuple([m.open for m in who]))
            text = self._refusals.get(k)
            if text is None:
                if len(self._refusals) >= _REFUSALS_MAX:
                    self._refusals.clear()
                text = self._refusals[k] = _nobody(team, [m for m in who if m.key != exclude])
            return None, text
        if strategy == "round_robin":
            m = self._round_robin(state_key, who, able)
        elif strategy == "weighted":
            m = self._weighted(state_key, able)
        else:
            m = min(able, key=_load_then_idle)
        m.open += 1
        cap = f"{m.open}/{m.capacity} open" if m.capacity is not None else f"{m.open} open"
        return m, f"team {team} → {strategy} → {m.name} ({cap})"

    def _round_robin(self, k: str, members: list[_Member], able: list[_Member]) -> _Member:
        last = (self.state.get(k) or {}).get("last")
        n = len(members)
        start = 0
        for i, m in enumerate(members):
            if m.key == last:
                start = i + 1
                break
        ok = able if len(able) == n else set(able)
        for i in range(n):
            m = members[(start + i) % n]
            if m in ok:
                self.state[k] = {"last": m.key}
                self._dirty.add(k)
                return m
        raise AssertionError("unreachable: `able` is not empty")  # pragma: no cover

    def _weighted(self, k: str, able: list[_Member]) -> _Member:
        current = self.state.get(k)
        if current is None:
            current = self.state[k] = {}
        total = 0.0
        best, best_w = None, None
        for m in able:  # member order breaks ties: deterministic
            w = current.get(m.key, 0) + m.weight
            current[m.key] = w
            total += m.weight
            if best_w is None or w > best_w:
                best, best_w = m, w
        current[best.key] = best_w - total
        self._dirty.add(k)
        return best


def _load_then_idle(m: _Member):
    return (m.open, m.idle)


def _state_key(strategy: str, team: str) -> str:
    return f"{META_PREFIX}{strategy}.{key(team)}"


def _fold(loads: dict[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for name, n in loads.items():
        out[key(name)] = out.get(key(name), 0) + n
    return out


def _nobody(team: str, members: list[_Member]) -> str:
    if not members:
        return f"nobody else in team {team}"
    why = [m.refusal() for m in members]
    more = f", +{len(why) - _SHOWN} more" if len(why) > _SHOWN else ""
    full = all(m.usable for m in members)
    head = f"no capacity in team {team}" if full else f"nobody available in team {team}"
    return f"{head} ({', '.join(why[:_SHOWN])}{more})"


def assign(lead: dict, decision: Decision, now: datetime) -> dict[str, Any]:
    """Apply a decision to a lead dict; return the assignment row to store."""
    previous = lead.get("owner")
    lead["owner"] = decision.owner
    lead["team"] = decision.team
    lead["assigned_at"] = now if decision.owner is not None else None
    lead["assigned_manually"] = False
    return {"lead_id": lead["id"], "owner": decision.owner, "previous_owner": previous, "rule": decision.rule,
            "strategy": decision.strategy, "at": now, "reason": decision.reason, "manual": False}


_ASSIGNMENT_COLUMNS = ("lead_id", "owner", "previous_owner", "rule", "strategy", "at", "reason", "manual")


def insert_assignments(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Store assignment rows (one per routed lead: the bulk path of store.bulk)."""
    bulk.insert(conn, ASSIGNMENTS, rows, _ASSIGNMENT_COLUMNS)


def _latest_reasons(conn: Connection, lead_ids: list[int]) -> dict[int, tuple[str | None, str]]:
    """The latest stored (owner, reason) per lead, for the given leads (queries of 500 ids)."""
    out: dict[int, tuple[str | None, str]] = {}
    for i in range(0, len(lead_ids), 500):
        part = lead_ids[i:i + 500]
        stmt = (select(ASSIGNMENTS.c.lead_id, ASSIGNMENTS.c.owner, ASSIGNMENTS.c.reason)
                .where(ASSIGNMENTS.c.lead_id.in_(part)).order_by(ASSIGNMENTS.c.at, ASSIGNMENTS.c.id))
        for lead_id, owner, reason in conn.execute(stmt):
            out[lead_id] = (owner, reason)
    return out


class RoutingStep:
    """The routing step of `process`: sync owners, run `checks` (process passes the SLA check,
    which depends on routing, not the other way), route, store every decision."""

    writes = frozenset({"assigned_manually"})

    def __init__(self, checks: Sequence[Callable[[Any], None]] = ()) -> None:
        self.checks = tuple(checks)
        self.router: Router | None = None
        self.active = False

    def start(self, ctx) -> None:
        routing = ctx.rules.routing
        sync_owners(ctx.conn, ctx.rules)
        self.active = bool(routing.owners or routing.rules or routing.fallback)
        for check in self.checks:  # after owners are synced, before the router reads the loads
            check(ctx)
        self.router = Router.load(ctx.conn, ctx.rules, ctx.now) if self.active else None

    def chunk(self, ctx, leads: list[dict]) -> None:
        router = self.router
        if router is None:
            return
        now = ctx.now
        rows: list[dict[str, Any]] = []
        unplaced: list[dict[str, Any]] = []
        needs, route = router.needs_routing, router.route
        assigned = rerouted = unassigned = 0
        for lead in leads:
            why = needs(lead)
            if why is None:
                continue
            decision = route(lead)
            if why != "unassigned":
                decision.reason = f"{why} → {decision.reason}"
                rerouted += 1
            if decision.owner is None:
                (unplaced if lead.get("owner") is None else rows).append(assign(lead, decision, now))
                unassigned += 1
                continue
            rows.append(assign(lead, decision, now))
            assigned += 1
            if len(ctx.changes) < ctx.MAX_CHANGES:
                ctx.note_change(lead["id"], owner=decision.owner, reason=decision.reason)
        counts = ctx.counts
        counts["assigned"] += assigned
        if rerouted:
            counts["rerouted"] += rerouted
        if unassigned:
            counts["unassigned"] += unassigned
        if unplaced:
            # Record "nobody could take it" once, not again on every run while nothing changes.
            latest = _latest_reasons(ctx.conn, [r["lead_id"] for r in unplaced])
            rows.extend(r for r in unplaced if latest.get(r["lead_id"]) != (None, r["reason"]))
        insert_assignments(ctx.conn, rows)
        router.save(ctx.conn)  # per chunk: each chunk commits, and the rotation must match it

    def finish(self, ctx) -> None:
        if self.router is not None:
            self.router.save(ctx.conn)


# ---------------------------------------------------------------- manual assignment and history
@dataclass
class ManualAssignment:
    lead_id: int
    owner: str
    previous_owner: str | None
    team: str | None
    note: str | None = None   # e.g. "sam is inactive: …"


def assign_lead(store, rules: RuleSet, ref: str, owner: str, *, now: datetime) -> ManualAssignment:
    """`leads assign LEAD OWNER`: give the lead to an owner by hand; routing never undoes it.

    OWNER is a name or e-mail from routing.yaml, an owner kept in the store, or a queue
    named by the rules. Unknown owners raise NotFoundError listing the known ones.
    """
    with store.begin() as conn:
        lead_id = resolve_lead(conn, ref)
        o = rules.routing.owner(owner)
        note = None
        if o is not None:
            name, team = o.name, o.team
            if not o.active:
                note = f"{o.name} is inactive; the lead stays with them until someone reassigns it"
            elif (until := away_until(o, now)) is not None:
                note = f"{o.name} is away until {until.isoformat()}"
        else:
            queues = {key(q): q for q in queue_names(rules)}
            stored = {}
            for r in stored_owners(conn):
                stored[key(r["name"])] = r
                if r.get("email"):
                    stored.setdefault(key(r["email"]), r)
            if key(owner) in queues:
                name, team = queues[key(owner)], None
            elif key(owner) in stored:
                row = stored[key(owner)]
                name, team = row["name"], row["team"]
                note = f"{name} is no longer in routing.yaml"
            else:
                known = [x.name for x in rules.routing.owners] + list(queues.values())
                raise NotFoundError(f"no owner '{owner}'{did_you_mean(owner, known)}",
                                    hint="owners: " + (", ".join(known) if known else "none in routing.yaml"))
        previous = conn.execute(select(LEADS.c.owner).where(LEADS.c.id == lead_id)).scalar()
        conn.execute(LEADS.update().where(LEADS.c.id == lead_id).values(
            owner=name, team=team, assigned_at=now, assigned_manually=True, updated_at=now))
        conn.execute(ASSIGNMENTS.insert().values(
            lead_id=lead_id, owner=name, previous_owner=previous, rule=None, strategy=None, at=now,
            reason="manual assignment", manual=True))
        touch_owners(conn, [(name, now)])  # no-op for a queue (no owners row)
    return ManualAssignment(lead_id, name, previous, team, note)


def lead_assignments(conn: Connection, lead_id: int) -> list[dict[str, Any]]:
    """Every stored assignment of a lead, oldest first — for `leads explain`."""
    cols = [ASSIGNMENTS.c[c] for c in ("at", "owner", "previous_owner", "rule", "strategy", "reason", "manual")]
    stmt = select(*cols).where(ASSIGNMENTS.c.lead_id == lead_id).order_by(ASSIGNMENTS.c.at, ASSIGNMENTS.c.id)
    return [dict(r._mapping) for r in conn.execute(stmt)]


def route_leads(conn: Connection, rules: RuleSet, leads: Iterable[dict], now: datetime) -> list[Decision]:
    """Route lead dicts outside `process` (e.g. `rules diff`): decisions only, nothing stored."""
    router = Router.load(conn, rules, now)
    return [router.route(lead) for lead in leads if router.needs_routing(lead)]
