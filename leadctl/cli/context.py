"""What every command needs from the global options: the store, the rules and the clock."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import typer


@dataclass
class Settings:
    db: str
    rules_dir: str
    now_text: str | None
    _store: Any = field(default=None, repr=False)
    _rules: Any = field(default=None, repr=False)
    _now: datetime | None = field(default=None, repr=False)

    @property
    def now(self) -> datetime:
        if self._now is None:
            from ..clock import parse_now

            self._now = parse_now(self.now_text)
        return self._now

    def store(self, *, create: bool = True):
        if self._store is None:
            from ..store.db import open_store

            self._store = open_store(self.db, create=create)
        return self._store

    def rules(self):
        """The validated rule set; invalid rules stop the command with every problem listed."""
        if self._rules is None:
            from ..rules.loader import load_rules

            self._rules = load_rules(self.rules_dir)
        return self._rules


def settings(ctx: typer.Context) -> Settings:
    return ctx.find_root().obj
