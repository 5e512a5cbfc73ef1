"""`leadctl followups` commands: due, remind (the cron sweep), done, snooze."""
from __future__ import annotations

import json
import sys
from typing import Optional

import typer

from .context import settings
from .fast import show_due
from .render import check_format, say
from .segments import SEGMENT

app = typer.Typer(help="Follow-up tasks and the cron reminder sweep.", no_args_is_help=True)


@app.command("due")
def followups_due(
    ctx: typer.Context,
    owner: Optional[str] = typer.Option(None, "--owner", help="Only this owner's tasks (name or e-mail; "
                                        "'unassigned' for tasks without an owner)."),
    until: Optional[str] = typer.Option(None, "--until", help="List tasks due by this time (default: now). "
                                        "A bare date means the end of that day."),
    overdue: bool = typer.Option(False, "--overdue", help="Only tasks whose due time has passed."),
    limit: int = typer.Option(1000, "--limit", min=0, help="At most this many tasks (0 = all)."),
    fmt: str = typer.Option("table", "--format", help="table, csv or json."),
    segment: Optional[str] = SEGMENT,
) -> None:
    """List open follow-up tasks that are due, earliest first."""
    from ..clock import parse_when
    from ..usecases import due_followups

    check_format(fmt)
    s = settings(ctx)
    until_at = parse_when(until, "--until", end=True)
    rules, store = s.rules(), s.store(create=False)
    tasks = due_followups(store, rules, s.now, owner=owner, until=until_at, overdue=overdue,
                          limit=(limit + 1) if limit else None, segment=segment)
    show_due(tasks, fmt=fmt, limit=limit)


def _stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else ('es' if what.endswith('ch') else 's')}"


def _what(tasks: int, breaches: int) -> str:
    """`3 tasks`, `1 SLA breach`, `3 tasks and 1 SLA breach`."""
    parts = ([_count(tasks, "task")] if tasks or not breaches else []) + (
        [_count(breaches, "SLA breach")] if breaches else [])
    return " and ".join(parts)


@app.command("remind")
def followups_remind(
    ctx: typer.Context,
    smtp: Optional[str] = typer.Option(None, "--smtp", envvar="LEADCTL_SMTP_URL", show_envvar=True,
                                       help="Send each owner one digest e-mail: "
                                            "smtp://[user:pass@]host:port[?starttls=1&from=ADDR&to=ADDR]. "
                                            "The password may come from LEADCTL_SMTP_PASSWORD."),
    webhook: Optional[str] = typer.Option(None, "--webhook", envvar="LEADCTL_WEBHOOK_URL", show_envvar=True,
                                          help="POST one JSON document with every digest to this URL "
                                               "(user:pass@ in the URL is sent as HTTP Basic auth)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be sent and to whom; "
                                 "send nothing, mark nothing."),
    fmt: str = typer.Option("text", "--format", help="text or json (always one JSON document)."),
) -> None:
    """The cron sweep: SLA check, inactivity tasks, and one reminder digest per owner.

    Without --smtp/--webhook the digests are printed, and printing counts as delivery:
    cron mails them, and the tasks are marked reminded. With --smtp or --webhook, stdout
    carries only what could not be sent (and the JSON document with --format json).
    In text format it prints nothing and exits 0 when there is nothing to remind.
    A task is reminded once; overlapping runs are safe. A failed send exits 1 and
    is retried next run. --dry-run shows what would be sent and marks nothing.

    crontab:  */5 * * * *  cd /srv/sales && leadctl followups remind --smtp smtp://mail:25
    """
    from ..engine.remind import remind
    from ..notify import NotifyError, SmtpTarget

    check_format(fmt, ("text", "json"))
    s = settings(ctx)
    target = SmtpTarget.parse(smtp) if smtp else None
    if webhook and not webhook.lower().startswith(("http://", "https://")):
        from ..errors import UsageError
        from ..notify import mask_url

        raise UsageError(f"--webhook: not an http(s) URL: {mask_url(webhook)}")
    transport = target is not None or bool(webhook)
    rules, store = s.rules(), s.store(create=False)
    result = remind(store, rules, s.now, smtp=target, webhook=webhook, dry_run=dry_run)
    if fmt == "json":
        sys.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
    elif dry_run:
        sys.stdout.write(result.text())
    else:
        sys.stdout.write(result.text(result.printed))
        for owner, error in result.failed:
            sys.stdout.write(f"not sent to {owner}: {error}\n")
    sys.stdout.flush()
    for w in result.warnings:
        say(f"warning: {w}")
    if dry_run:
        for d in result.sent:
            say(f"would remind {d.name} ({_what(len(d.tasks), len(d.breaches))}): {d.via}")
        say("dry run: nothing sent, nothing marked" if result.sent else "dry run: nothing to remind")
    elif not transport and _stdout_is_terminal():
        if result.sent:
            say(f"note: printing counts as delivery: {_what(result.reminded, result.breaches)} now marked "
                "reminded and not sent again; "
                "use --dry-run to look first, --smtp or --webhook to send")
        else:
            say("nothing to remind")
    if result.failed:
        n = len(result.failed)
        first = result.failed[0][1]
        raise NotifyError(f"{_count(n, 'digest')} not sent" + (f": {first}" if n == 1 else f"; first: {first}"),
                          hint="their tasks stay un-reminded; the next run retries")


@app.command("done")
def followups_done(
    ctx: typer.Context,
    task_id: int = typer.Argument(..., metavar="ID", help="Task id (see `followups due`)."),
    note: Optional[str] = typer.Option(None, "--note", help="What was done."),
) -> None:
    """Mark a follow-up task done."""
    from ..usecases import complete_followup

    s = settings(ctx)
    change = complete_followup(s.store(create=False), task_id, s.now, note)
    say(f"task {change.id} done ({change.action}, lead {change.lead_id})")


@app.command("snooze")
def followups_snooze(
    ctx: typer.Context,
    task_id: int = typer.Argument(..., metavar="ID", help="Task id (see `followups due`)."),
    duration: str = typer.Argument(..., metavar="DURATION", help="How long from now: 30m, 2h, 1d, 1w."),
) -> None:
    """Move a task's due time DURATION from now, into the owner's business hours."""
    from ..rules.durations import parse_duration
    from ..usecases import snooze_followup

    s = settings(ctx)
    parse_duration(duration)  # a bad duration is a usage error before the store is opened
    rules = s.rules()
    change = snooze_followup(s.store(create=False), rules, task_id, duration, s.now)
    say(f"task {change.id} snoozed: due {change.due_local}")
