"""`leadctl init`: a database, the default, commented rule set and the project's phone region."""
from __future__ import annotations

import os
from typing import Optional

import typer

from .context import from_option, settings
from .render import say


def register(app: typer.Typer) -> None:
    app.command("init")(init)


def init(ctx: typer.Context,
         region: Optional[str] = typer.Option(
             None, "--region", metavar="CC",
             help="Country of phone numbers written without a country code, when neither the row nor "
                  "the file says (ISO code such as FR); default: the locale's.")) -> None:
    """Create the database and copy the default rules into the rules folder (never overwrites)."""
    from ..setup import init_project, locale_region, parse_region, set_region

    s = settings(ctx)
    if region is not None:
        with from_option("--region"):
            region = parse_region(region)  # before anything is created
    created, kept = init_project(s.db, s.rules_dir)
    for path in created:
        say(f"created {path}")
    for path in kept:
        say(f"kept {path} (exists)")
    code, how = set_region(s.db, region, os.environ)
    change = "change it with `leadctl init --region CC`"
    if how == "given":
        say(f"default phone region: {code}")
    elif how == "kept":
        say(f"default phone region: {code} (kept; {change})")
    elif how == "locale":
        say(f"default phone region: {code} (from the locale {locale_region(os.environ)[1]}; {change})")
    else:
        say("no default phone region (the locale names no country): phone numbers without a country code "
            "need a Country column or --default-region; set one with `leadctl init --region CC`")
