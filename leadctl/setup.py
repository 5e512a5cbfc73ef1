"""Project set-up: the database, a copy of the default rules, and the project's phone region."""
from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Mapping

from .errors import UsageError
from .store.db import get_meta, open_store, set_meta

DEFAULT_RULES = Path(__file__).parent / "default_rules"
REGION_KEY = "default_region"  # meta key: the region of national phone numbers when nothing else says
_LOCALE = re.compile(r"[a-z]{2,3}_([A-Z]{2})(?:[.@]|\Z)")


def init_project(db: str, rules_dir: str) -> tuple[list[str], list[str]]:
    """Create the store and copy default rule files that do not exist yet.

    Returns (created paths, kept paths).
    """
    created: list[str] = []
    kept: list[str] = []
    is_file = "://" not in db
    existed = is_file and Path(db).exists()
    open_store(db).dispose()
    (kept if existed else created).append(db)
    target = Path(rules_dir)
    target.mkdir(parents=True, exist_ok=True)
    for src in sorted(DEFAULT_RULES.glob("*.yaml")):
        dest = target / src.name
        if dest.exists():
            kept.append(str(dest))
        else:
            shutil.copyfile(src, dest)
            created.append(str(dest))
    return created, kept


def locale_region(env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(region, the locale it comes from) from LC_ALL, LC_TELEPHONE or LANG (`fr_FR.UTF-8` → FR)."""
    for name in ("LC_ALL", "LC_TELEPHONE", "LANG"):
        value = env.get(name)
        if value:
            m = _LOCALE.match(value)
            if m:
                region = _region_code(m.group(1))
                return (region, value) if region else (None, value)
            return None, value  # the first locale set decides, as for every other locale category
    return None, None


def _region_code(value: str) -> str | None:
    """An ISO 3166 code (or country name) that phone numbers know, upper-case; None otherwise."""
    from .ingest import normalize as N

    try:
        code = N.normalize_country(value)
    except N.BadValue:
        return None
    return code if code and N.calling_code_of_region(code) else None


def parse_region(value: str) -> str:
    """A region as the ISO code phone numbers use (`fr`, `France` → FR); UsageError otherwise."""
    code = _region_code(value.strip())
    if code is None:
        raise UsageError(f"'{value}' is not a country code", hint="an ISO 3166 code such as FR, US or DE")
    return code


def set_region(db: str, region: str | None, env: Mapping[str, str]) -> tuple[str | None, str]:
    """Record the project's default phone region; return (region, how): "given" (--region),
    "kept" (one was set before and none is given), "locale" (proposed from the locale), or "none".

    Every import reads national phone numbers with it when nothing in the row or file says
    their country (see ingest.rows.PHONE_EVIDENCE)."""
    code = parse_region(region) if region is not None else None
    store = open_store(db)
    try:
        if code is not None:
            with store.begin() as conn:
                set_meta(conn, REGION_KEY, code)
            return code, "given"
        with store.connect() as conn:
            current = get_meta(conn, REGION_KEY)
        if current:
            return current, "kept"
        code, _source = locale_region(env)
        if code is None:
            return None, "none"
        with store.begin() as conn:
            set_meta(conn, REGION_KEY, code)
        return code, "locale"
    finally:
        store.dispose()


def project_region(store) -> str | None:
    """The project's default phone region (`leadctl init --region`), or None."""
    with store.connect() as conn:
        return get_meta(conn, REGION_KEY)
