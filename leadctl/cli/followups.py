"""`leadctl followups` commands: due, remind (the cron sweep), done, snooze."""
from __future__ import annotations

import json
import sys
from typing import Optional

import typer

from .context import settings
from .render import check_format, emit_rows, say

app = typer.Typer(help="Follow-up tasks and the cron reminder sweep.", no_args_is_help=True)

DUE_COLUMNS = ("id", "due_at", "due_local", "overdue", "owner", "action", "lead_id", "lead", "cadence", "step",
               "kind", "note")
# The table keeps to what fits a terminal; CSV and JSON carry every column.
TABLE_COLUMNS = ("id", "due_local", "overdue", "owner", "action", "lead", "cadence", "step")
TABLE_HEADERS = ("Task", "Due (owner's time)", "Overdue", "Owner", "Action", "Lead", "Cadence / rule", "Step")


@app.command("due")
def followups_due(
    ctx: typer.Context,
    owner: Optional[str] = typer.Option(None, "--owner", help="Only this owner's tasks (name or e-mail; "
                                        "'unassigned' for tasks without an owner)."),
    until: Optional[str] = typer.Option(None, "--until", help="List tasks due by this time (default: now). "
                                        "A bare date means the end of that day."),
    overdue: bool = typer.Option(False, "--overdue", help="Only tasks whose due time has passed."),
    limit: int = typer.Option(1000, "--limit", help="At most this many tasks (0 = all)."),
    fmt: str = typer.Option("table", "--format", help="table, csv or json."),
) -> None:
    """List open follow-up tasks that are due, earliest first."""
    from ..engine.followups import due_tasks
    from ..engine.leadquery import parse_when

    check_format(fmt)
    s = settings(ctx)
    until_at = parse_when(until, "--until", end=True)
    rules, store = s.rules(), s.store(create=False)
    with store.connect() as conn:
        tasks = due_tasks(conn, rules, s.now, owner=owner, until=until_at, overdue=overdue,
                          limit=(limit + 1) if limit else None)
    more = bool(limit) and len(tasks) > limit
    tasks = tasks[:limit] if limit else tasks
    rows = [(t.id, t.due_at, t.due_local, t.overdue, t.owner, t.action, t.lead_id, t.lead, t.cadence, t.step,
             t.kind, t.note) for t in tasks]
    if fmt == "table":
        if not rows:
            say("nothing due")
            return
        emit_rows(TABLE_COLUMNS, [(t.id, t.due_local, t.overdue, t.owner or "(unassigned)", t.action, t.lead,
                                   t.cadence, t.step) for t in tasks],
                  fmt=fmt, headers=TABLE_HEADERS, title="Follow-ups due")
    else:
        emit_rows(DUE_COLUMNS, rows, fmt=fmt)
    if more:
        say(f"showing the first {limit} tasks; use --limit 0 for all")


@app.command("remind")
def followups_remind(
    ctx: typer.Context,
    smtp: Optional[str] = typer.Option(None, "--smtp", envvar="LEADCTL_SMTP_URL", show_envvar=True,
                                       help="Send each owner one digest e-mail: "
                                            "smtp://[user:pass@]host:port[?starttls=1&from=ADDR&to=ADDR]. "
                                            "The password may come from LEADCTL_SMTP_PASSWORD."),
    webhook: Optional[str] = typer.Option(None, "--webhook", envvar="LEADCTL_WEBHOOK_URL", show_envvar=True,
                                          help="POST one JSON document with every digest to this URL."),
    fmt: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """The cron sweep: SLA check, inactivity tasks, and one reminder digest per owner.

    Prints nothing and exits 0 when there is nothing to remind. A task is reminded
    once; overlapping runs are safe. A failed send exits 1 and is retried next run.

    crontab:  */5 * * * *  cd /srv/sales && leadctl followups remind --smtp smtp://mail:25
    """
    from ..engine.remind import remind
    from ..notify import SmtpTarget

    check_format(fmt, ("text", "json"))
    s = settings(ctx)
    target = SmtpTarget.parse(smtp) if smtp else None
    if webhook and not webhook.lower().startswith(("http://", "https://")):
        from ..errors import UsageError
        from ..notify import mask_url

        raise UsageError(f"--webhook: not an http(s) URL: {mask_url(webhook)}")
    rules, store = s.rules(), s.store(create=False)
    result = remind(store, rules, s.now, smtp=target, webhook=webhook)
    if result.sent:
        if fmt == "json":
            sys.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
        else:
            sys.stdout.write(result.text())
        sys.stdout.flush()
    for w in result.warnings:
        say(f"warning: {w}")
    if result.failed:
        for owner, error in result.failed:
            sys.stderr.write(f"error: {owner}: {error}\n")
        sys.stderr.write("hint: those tasks stay un-reminded; the next run retries\n")
        raise typer.Exit(1)


@app.command("done")
def followups_done(
    ctx: typer.Context,
    task_id: int = typer.Argument(..., metavar="ID", help="Task id (see `followups due`)."),
    note: Optional[str] = typer.Option(None, "--note", help="What was done."),
) -> None:
    """Mark a follow-up task done."""
    from ..engine.followups import complete_task

    s = settings(ctx)
    with s.store(create=False).begin() as conn:
        change = complete_task(conn, task_id, s.now, note)
    say(f"task {change.id} done ({change.action}, lead {change.lead_id})")


@app.command("snooze")
def followups_snooze(
    ctx: typer.Context,
    task_id: int = typer.Argument(..., metavar="ID", help="Task id (see `followups due`)."),
    duration: str = typer.Argument(..., metavar="DURATION", help="How long from now: 30m, 2h, 1d, 1w."),
) -> None:
    """Move a task's due time DURATION from now, into the owner's business hours."""
    from ..engine.followups import snooze_task
    from ..rules.durations import parse_duration

    s = settings(ctx)
    parse_duration(duration)  # a bad duration is a usage error before the store is opened
    rules = s.rules()
    with s.store(create=False).begin() as conn:
        change = snooze_task(conn, rules, task_id, duration, s.now)
    say(f"task {change.id} snoozed: due {change.due_local}")
