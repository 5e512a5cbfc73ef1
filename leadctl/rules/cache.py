"""The parsed-rules cache: a rules folder read before is unpickled instead of parsed and validated again.

One file per folder state under `$XDG_CACHE_HOME/leadctl` (else `~/.cache/leadctl`), named by
a hash of the rule files' names and contents, the folder as given, and the code that reads
them (leadctl's version, Python's, and the size and time of every module under `leadctl/rules`):
any change to a file, a file added or removed, or another leadctl makes a new key, so a stale
entry is never read. Only rule sets that loaded without problems are stored.

Each file holds two pickles: first `light`, plain values the start-up paths need without
pydantic (business hours, owners), then the whole RuleSet. Conditions are stored as their
spec, label and mode, and compiled again when read (compiled conditions are code).
Setting `LEADCTL_RULES_CACHE=0` turns the cache off; a cache that cannot be read or written is
ignored.
"""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .loader import RuleSet

_PACKAGE = Path(__file__).resolve().parents[1]   # leadctl/
# The modules whose classes and functions a cached RuleSet holds or was built by.
_CODE = ("rules", "fields.py", "words.py", "errors.py", "clock.py")


class _Uncacheable(Exception):
    """The rule set holds something the cache cannot store faithfully."""


def cache_dir() -> Path | None:
    base = os.environ.get("XDG_CACHE_HOME") or (os.path.join(os.path.expanduser("~"), ".cache")
                                                if os.path.expanduser("~") != "~" else "")
    return Path(base) / "leadctl" if base else None


def _code_stamp() -> list:
    from leadctl import __version__

    stamp: list = [__version__, sys.version_info[:2]]
    for name in _CODE:
        path = _PACKAGE / name
        files = sorted(path.glob("*.py")) if path.is_dir() else [path]
        for f in files:
            st = f.stat()
            stamp.append((f.name, st.st_mtime_ns, st.st_size))
    return stamp


def folder_key(directory: str | os.PathLike) -> str | None:
    """The cache key of a rules folder as it is now; None when there is nothing to cache (or no cache)."""
    if os.environ.get("LEADCTL_RULES_CACHE", "").strip() in ("0", "off", "no", "false") or cache_dir() is None:
        return None
    try:
        if not os.path.isdir(directory):
            return None
        h = hashlib.sha256(repr((_code_stamp(), os.fspath(directory), os.path.abspath(directory))).encode())
        for name in sorted(os.listdir(directory)):
            if name.endswith((".yaml", ".yml")):
                with open(os.path.join(directory, name), "rb") as fh:
                    h.update(name.encode() + b"\0" + hashlib.sha256(fh.read()).digest())
    except (OSError, ValueError):
        return None
    return h.hexdigest()[:40]


def _path(key: str) -> Path | None:
    d = cache_dir()
    return d / f"rules-{key}.pickle" if d is not None else None


def light(rules: RuleSet) -> dict:
    """What the start-up paths (`followups due`, the reports) need of the rules, in plain values
    (tuples and dicts: no pydantic, no leadctl classes to unpickle)."""
    hours = rules.followups.business_hours
    out: dict[str, Any] = {
        "hours": (tuple(hours.days), hours.start, hours.end),
        "owners": [(o.name, o.email, o.timezone) for o in rules.routing.owners],
    }
    try:
        from leadctl.reports.data import source_infos, stage_list

        out["stages"] = [(s.name, s.label, s.kind) for s in stage_list(rules)]
        out["sources"] = [(s.name, s.channel, s.aliases, dict(s.cost)) for s in source_infos(rules)]
    except Exception:  # noqa: BLE001 - without them the reports take the ordinary path
        pass
    try:
        from leadctl.engine.sweepscan import clock_thresholds, sweep_digest, sweep_filters

        out["sweep"] = {
            "digest": sweep_digest(rules),
            "inactivity": [(r.name, clock_thresholds(r.when.source)) for r in rules.followups.inactivity],
            "filters": {r.name: sweep_filters(r.when.source) for r in rules.followups.inactivity},
            "sla": [r.within for r in rules.routing.sla],
            "terminal": sorted(set(rules.stages.won) | set(rules.stages.lost)),
        }
    except Exception:  # noqa: BLE001 - without it the sweep takes the ordinary path
        pass
    return out


class _Pickler(pickle.Pickler):
    def __init__(self, fh, modes: dict[int, str]):
        super().__init__(fh, protocol=pickle.HIGHEST_PROTOCOL)
        self.modes = modes

    def persistent_id(self, obj):
        from leadctl.rules.conditions import ALWAYS, Condition

        if not isinstance(obj, Condition):
            return None
        if obj is ALWAYS:
            return ("always",)
        mode = self.modes.get(id(obj))
        if mode is None:
            raise _Uncacheable("a condition of unknown origin")
        return ("cond", obj.source, obj.label, mode)


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid):
        from leadctl.rules.conditions import ALWAYS, compile_condition

        if pid[0] == "always":
            return ALWAYS
        _, source, label, mode = pid
        return compile_condition(source, label=label, mode=mode)


def save(key: str, rules: RuleSet, modes: dict[int, str]) -> None:
    """Store a loaded rule set under `key` (best effort: a failure only means no cache)."""
    path = _path(key)
    if path is None:
        return
    try:
        buf = io.BytesIO()
        pickle.dump(light(rules), buf, protocol=pickle.HIGHEST_PROTOCOL)
        _Pickler(buf, modes).dump(rules)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(buf.getvalue())
        os.replace(tmp, path)
    except Exception:  # noqa: BLE001 - the cache is an optimisation; the rules are loaded either way
        try:
            tmp.unlink()  # type: ignore[possibly-undefined]
        except Exception:  # noqa: BLE001
            pass


def load_light(key: str) -> dict | None:
    """The plain-values part of a cached rule set, or None."""
    path = _path(key)
    try:
        with open(path, "rb") as fh:  # type: ignore[arg-type]
            value = pickle.load(fh)
    except Exception:  # noqa: BLE001 - missing, partial or foreign: not cached
        return None
    return value if isinstance(value, dict) else None


def load_full(key: str) -> Any:
    """The cached RuleSet, or None."""
    path = _path(key)
    try:
        with open(path, "rb") as fh:  # type: ignore[arg-type]
            pickle.load(fh)
            return _Unpickler(fh).load()
    except Exception:  # noqa: BLE001 - missing, partial or foreign: not cached
        return None
