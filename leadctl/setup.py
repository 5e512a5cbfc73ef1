"""Project set-up: the database and a copy of the default rules."""
from __future__ import annotations

import shutil
from pathlib import Path

from .store.db import open_store

DEFAULT_RULES = Path(__file__).parent / "default_rules"


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
