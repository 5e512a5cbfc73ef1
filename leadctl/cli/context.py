"""What every command needs from the global options: the store, the rules and the clock."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterator

import typer

if TYPE_CHECKING:
    from ..rules.loader import RuleSet
    from ..store.db import Store

# The commands that may create the database: the first thing done in a new folder is one of these.
# Every other command works on an existing store and refuses a missing one (a wrong folder or --db
# must not answer "0 leads").
CREATING_COMMANDS = frozenset({"init", "import", "activity import", "activity log"})


@dataclass
class Settings:
    db: str
    rules_dir: str
    now_text: str | None
    now_option: str = "--now"      # how the clock was given: --now or LEADCTL_NOW, for error messages
    command: str = ""              # the sub-command being run, e.g. "leads list"
    _store: Any = field(default=None, repr=False)
    _rules: Any = field(default=None, repr=False)
    _now: datetime | None = field(default=None, repr=False)

    @property
    def now(self) -> datetime:
        if self._now is None:
            from ..clock import parse_now

            self._now = parse_now(self.now_text, option=self.now_option)
        return self._now

    def store(self, *, create: bool | None = None) -> Store:
        """The open store; only the commands of CREATING_COMMANDS create a missing one (unless told)."""
        if self._store is None:
            from ..store.db import open_store

            if create is None:
                create = self.command in CREATING_COMMANDS
            self._store = open_store(self.db, create=create)
        return self._store

    def rules(self) -> RuleSet:
        """The validated rule set; invalid rules stop the command with every problem listed."""
        if self._rules is None:
            from ..rules.loader import load_rules

            self._rules = load_rules(self.rules_dir)
        return self._rules


@contextmanager
def from_option(name: str) -> Iterator[None]:
    """Errors about a value given as option `name` show it first (`--at: cannot read 'x' …`): the core
    states the fact, the command line knows which option carried the value."""
    from ..errors import LeadctlError

    try:
        yield
    except LeadctlError as exc:
        if exc.option is None:
            exc.option = name
        raise


def settings(ctx: typer.Context) -> Settings:
    """The global settings, told which sub-command `ctx` runs."""
    root = ctx.find_root()
    s: Settings = root.obj
    names = []
    c: Any = ctx  # typer's Context; its parents are click's
    while c is not None and c is not root:
        names.append(c.info_name or "")
        c = c.parent
    if names:
        s.command = " ".join(reversed(names))
    return s
