"""The `leadctl` command: global options, sub-command groups, and the one error handler."""

import os
import sys
from typing import Optional

from . import fast


def _app():
    """The Typer app (`app`), built on first use: `followups due` on the start-up path never needs it."""
    g = globals()
    if "app" not in g:
        g["app"] = _build()
    return g["app"]


def __getattr__(name: str):
    if name == "app":
        return _app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _build():
    import typer

    from .. import __version__
    from . import activity, batches, exports, followups, imports, leads, owners, process, reports, rules, setup

    # isort: split
    from . import assign, consent, explain, listing  # noqa: F401 - they add list, explain, stage, assign, consent

    # isort: split
    from . import duplicates, enrich, verify  # noqa: F401 - add `leads duplicates`, `enrich` and `verify`
    from .context import Settings

    app = typer.Typer(
        name="leadctl",
        help="Lead management from the command line: import, score, qualify, route, follow up, report.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    def _version(value: bool) -> None:
        if value:
            typer.echo(f"leadctl {__version__}")
            raise typer.Exit()

    @app.callback()
    def root(
        ctx: typer.Context,
        db: str = typer.Option("./leadctl.db", "--db", envvar="LEADCTL_DB",
                               help="Database file path or SQLAlchemy URL."),
        rules_dir: str = typer.Option("./rules", "--rules", envvar="LEADCTL_RULES", help="Folder of rule files."),
        now: Optional[str] = typer.Option(None, "--now", envvar="LEADCTL_NOW",
                                          help="The clock for scheduling, decay, SLAs and relative dates (ISO 8601)."),
        version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                     help="Print the version."),
    ) -> None:
        """Lead management from the command line: import, score, qualify, route, follow up, report."""
        from_env = getattr(ctx.get_parameter_source("now"), "name", "") == "ENVIRONMENT"
        ctx.obj = Settings(db=db, rules_dir=rules_dir, now_text=now, now_option="LEADCTL_NOW" if from_env else "--now")

    setup.register(app)
    imports.register(app)
    process.register(app)
    app.add_typer(batches.app, name="batches")
    app.add_typer(leads.app, name="leads")
    app.add_typer(activity.app, name="activity")
    app.add_typer(rules.app, name="rules")
    app.add_typer(owners.app, name="owners")
    app.add_typer(followups.app, name="followups")
    app.add_typer(reports.app, name="report")
    app.add_typer(exports.app, name="export")
    from . import model  # `model fit` (its scikit-learn is imported only when a fit runs)

    app.add_typer(model.app, name="model")
    return app


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app and turn leadctl's errors into one line and an exit code."""
    from ..errors import LeadctlError, os_error

    debug = os.environ.get("LEADCTL_DEBUG") == "1"
    try:
        try:
            # The cron job's `followups due` starts without Typer and SQLAlchemy when it can (cli.fast);
            # otherwise, standalone mode: Typer/Click print usage errors themselves and exit 2.
            if not (fast.wanted(argv) and fast.run(sys.argv[1:] if argv is None else list(argv))):
                _app()(args=argv, prog_name="leadctl")
        except BrokenPipeError:
            raise
        except OSError as exc:
            # A file the command reads or writes (a missing folder, permissions, a full disk):
            # the person can fix that, so it is named, not reported as a bug.
            raise os_error(exc) from exc
    except LeadctlError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        lines = exc.describe().splitlines() or [exc.message]
        for line in lines:
            sys.stderr.write(f"error: {line}\n")
        if exc.hint:
            sys.stderr.write(f"hint: {exc.hint}\n")
        sys.exit(exc.exit_code)
    except SystemExit as exc:
        # Typer turns Ctrl-C into a silent exit 130; say what happened (the open transaction
        # has rolled back by then), in one line and without a traceback.
        ctx = exc.__context__
        if exc.code == 130 and ctx is not None and isinstance(ctx.__cause__, KeyboardInterrupt):
            sys.stderr.write("error: interrupted; the unfinished transaction was rolled back\n")
        raise
    except BrokenPipeError:
        # `leadctl export leads | head`: the reader left; that is not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    except Exception as exc:  # noqa: BLE001 - last line of defence; the message may hold lead data, so only its type is shown
        if debug:
            import traceback

            traceback.print_exc()
        else:
            sys.stderr.write(f"error: internal error ({type(exc).__name__})\n"
                             "hint: run again with LEADCTL_DEBUG=1 for a traceback, and report it\n")
        sys.exit(1)
