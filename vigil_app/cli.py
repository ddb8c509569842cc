"""The `vigil` command (interfaces.md section 1).

Errors are one line on standard error, `vigil: <what>`, with an exit code that says which
kind (EXIT_CODES); nothing starts before the input has been checked. SIGINT and SIGTERM stop
a command cleanly: `vigil run` lets Dagster end the run (and dbt) as interrupted, `vigil ui`
stops the whole process group of the Dagster UI, daemon and code server."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

import psycopg2

from vigil import config, db, services
from vigil_app import audit, reports, review

EXIT_CODES = {
    "run failed": 1,
    "bad input": 2,
    "database unreachable": 3,
    "day not over": 4,
    "nothing built yet": 5,
    "interrupted (SIGINT)": 130,
    "terminated (SIGTERM)": 143,
}


class CommandError(Exception):
    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


_signals_received: list[int] = []


def _interrupt(signum, _frame) -> None:
    """SIGINT, SIGTERM and SIGHUP all interrupt like Ctrl-C: Dagster ends a run it is in as
    interrupted (and stops dbt), and the exit code says which signal it was."""
    _signals_received.append(signum)
    raise KeyboardInterrupt


class Parser(argparse.ArgumentParser):
    """Usage errors as one line and exit code 2, like every other bad input."""

    def error(self, message: str) -> None:
        print(f"vigil: {message} (see `{self.prog} --help`)", file=sys.stderr)
        sys.exit(EXIT_CODES["bad input"])


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not a YYYY-MM-DD date") from err


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _print_summary(summary: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, sort_keys=False))
        return
    inv, pay = summary["invoices"], summary["payments"]
    print("ingested:    " + ", ".join(f"{k} {v}" for k, v in summary["ingested"].items()))
    print("quarantined: " + (", ".join(f"{k} {v}" for k, v in summary["quarantined"].items()) or "none"))
    print("findings:    " + (", ".join(f"{k} {v}" for k, v in summary["findings"].items()) or "none"))
    print(f"invoices:    {inv['issued']} issued ({inv['total']}), {inv['held']} held")
    counts = f"{pay['succeeded']} succeeded ({pay['amount']}), {pay['failed']} failed"
    if pay["mode"] == "off":
        print(f"payments:    auto-pay is off (VIGIL_PAYMENTS=off): nothing charged; {counts}")
    else:
        print(f"payments:    {counts} (VIGIL_PAYMENTS={pay['mode']})")
    print("messages:    " + (", ".join(f"{k} {v}" for k, v in summary["messages"].items()) or "none"))
    renewals = summary.get("renewals") or {}
    print("renewals:    " + (", ".join(f"{k.replace('_', ' ')} {v}" for k, v in renewals.items()) or "none"))
    dunning = summary["collections"]
    print(f"collections: {dunning['reminders']} reminders, {dunning['retries']} retries, {dunning['receipts']} "
          f"receipts, {dunning['delinquent']} delinquent, {dunning['in_collections']} in collections")
    for client, told in summary.get("story", {}).items():
        print(f"  {client} {told['client_name']}: {told['role']}: {told['invoices']} invoices, {told['charged']} "
              f"charged ({told['ach']} by ACH, {told['recovered']} on a retry), {told['soft']} soft and "
              f"{told['hard']} hard declines, {told['replaced']} method replaced, {told['checks']} checks, "
              f"{told['reminders']} reminders, {told['delinquent']} delinquent, {told['in_collections']} in "
              "collections")


def _require_built(conn) -> None:
    with conn.cursor() as cur:
        cur.execute("select to_regclass('marts.fct_findings') is not null")
        built = cur.fetchone()[0]
    if not built:
        params = db.server_params()
        raise CommandError(f"nothing built yet in {params.describe()}: run `vigil run --inbox DIR --through D` "
                           "first", EXIT_CODES["nothing built yet"])


def _summary() -> dict:
    with db.transaction() as conn:
        return reports.summary(conn, payments_mode=config.payments_mode())


def cmd_run(args: argparse.Namespace) -> int:
    from vigil_app.pipeline import run_range

    run_range(Path(args.inbox), args.date_from, args.through)
    _print_summary(_summary(), args.json)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from vigil_app.demo import collections_story as story
    from vigil_app.demo import renewals as demo_renewals
    from vigil_app.demo.inbox import VENDOR_FOLDERS, build_demo_inbox
    from vigil_app.pipeline import run_range
    from vigil_app.web.portal.pay import gateway as portal_gateway

    # The demo collects through localstripe unless told otherwise (interfaces.md section 8).
    os.environ.setdefault("VIGIL_PAYMENTS", "local")
    config.payments_mode()
    inbox = config.paths().home / "demo" / "inbox"
    manifest = build_demo_inbox(inbox, days=args.days, clients=args.clients, seed=args.seed,
                                payment_methods=story.story_methods(args.clients))
    if not args.json:
        print(f"simulated {args.days} days for {args.clients} clients into {inbox} "
              f"(generic feeds and {', '.join(VENDOR_FOLDERS)})")
    # The invoices first; then what the clients did about them (payments received, a new card);
    # then every day with collections and renewals (clients answer their renewal offers between
    # two runs, on the business day they are dated).
    plan = demo_renewals.plant(inbox, manifest.start, manifest.end)
    run_range(inbox, manifest.start, manifest.end, invoices_only=True)
    conn = db.connect()
    try:
        story.write_payments(conn, inbox, manifest.start, manifest.end)
        story.replace_card(conn, portal_gateway(), manifest.start, manifest.end)
    finally:
        conn.close()
    if plan is None:
        run_range(inbox, manifest.start, manifest.end)
    else:
        run_range(inbox, manifest.start, plan.first_through)
        answered = demo_renewals.answer_offers(plan)
        if answered and not args.json:
            print(f"demo clients answered their renewal offers on {plan.answers_on}: {'; '.join(answered)}")
        run_range(inbox, plan.answers_on, manifest.end, ingest=False)
    summary = _summary()
    with db.transaction() as conn:
        summary["story"] = story.summary(conn, args.clients)
    _print_summary(summary, args.json)
    from vigil_app.demo.console_user import ensure_demo_user, how_to_open

    # stderr with --json: the summary stays the last line of standard output
    print(how_to_open(ensure_demo_user()), file=sys.stderr if args.json else sys.stdout)
    _print_portal(args.json)
    return 0


def _print_portal(as_json: bool) -> None:
    """Where to see what the demo issued: the PDFs, and a signed portal link for one client
    (valid 30 days from today's business date) that `vigil serve` opens."""
    from datetime import UTC, datetime

    from billing.links import portal_link
    from vigil import clock

    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("""select i.client_id, c.client_name, count(*) from billing.invoices i
                       join marts.dim_clients c using (client_id)
                       where i.invoice_number is not null and i.status <> 'void'
                       group by 1, 2 order by 3 desc, 1 limit 1""")
        found = cur.fetchone()
        today = clock.read_clock(conn).today(datetime.now(UTC))
    out = sys.stderr if as_json else sys.stdout
    print(f"PDFs:        {config.paths().pdfs}", file=out)
    if found:
        client_id, name, count = found
        print(f"portal:      `vigil serve`, then open {portal_link(client_id, 'invoices', today)}\n"
              f"             ({name}, {client_id}: {count} invoices; the link works 30 days)", file=out)


def cmd_export(args: argparse.Namespace) -> int:
    accounting_only = [name for name in ("target", "date_from", "through", "inbox") if getattr(args, name)]
    if args.what == "accounting" and not args.target:
        raise CommandError("export accounting needs --target xero, quickbooks or journal", EXIT_CODES["bad input"])
    if args.what != "accounting" and accounting_only:
        raise CommandError(f"--{accounting_only[0].replace('date_', '')} is for `vigil export accounting` only",
                           EXIT_CODES["bad input"])
    if args.format == "csv" and args.what not in ("invoices", "collections"):
        raise CommandError(f"--format csv is for invoices and collections; {args.what} are written as JSON lines",
                           EXIT_CODES["bad input"])
    out = Path(args.out)
    if out.is_dir():
        raise CommandError(f"--out {out} is a folder; name the file to write", EXIT_CODES["bad input"])
    settings = _accounting_settings(args) if args.what == "accounting" else None
    db.prepare()
    with db.transaction() as conn:
        _require_built(conn)
        if args.what == "invoices":
            n = reports.write_invoices(conn, out, args.format)
        elif args.what == "findings":
            n = reports.write_jsonl(reports.findings(conn), out)
        elif args.what == "messages":
            n = reports.write_jsonl(reports.messages(conn), out)
        elif args.what == "payments":
            n = reports.write_jsonl(reports.payments(conn), out)
        elif args.what == "collections":
            n = reports.write_rows(reports.collections(conn), out, args.format, reports.COLLECTION_FIELDS)
        elif args.what == "renewals":
            n = reports.write_jsonl(reports.renewals(conn), out)
        elif args.what == "accounting":
            from billing.accounting import export_accounting

            n, rows = export_accounting(conn, args.target, out, settings, args.date_from, args.through)
            print(f"wrote {n} invoices and credit notes ({rows} rows, {args.target}, accounts from "
                  f"{settings.source}) to {out}", file=sys.stderr)
            return 0
        else:
            n = reports.write_jsonl(reports.quarantine(conn), out)
    print(f"wrote {n} {args.what} to {out}", file=sys.stderr)
    return 0


def _accounting_settings(args: argparse.Namespace):
    """Account codes from `accounting.yaml` in the inbox when there is one, checked before anything starts."""
    from billing.accounting import AccountingSettingsError, load_settings

    if args.date_from and args.through and args.date_from > args.through:
        raise CommandError(f"--from {args.date_from} is after --through {args.through}", EXIT_CODES["bad input"])
    inbox = Path(args.inbox) if args.inbox else Path(os.environ.get("VIGIL_INBOX") or config.paths().inbox)
    try:
        return load_settings(inbox)
    except AccountingSettingsError as err:
        raise CommandError(str(err), EXIT_CODES["bad input"]) from None


def cmd_findings(args: argparse.Namespace) -> int:
    db.prepare()
    with db.transaction() as conn:
        _require_built(conn)
        if args.action == "list":
            rows = reports.findings(conn, status=args.status, client=args.client)
            for r in rows:
                print(f"{r['finding_id']}  {r['severity']:<8} {r['status']:<12} {r['type']:<26} "
                      f"{r['client_id'] or '-':<8} {r['service_date'] or '-':<10} {r['message']}")
            print(f"{len(rows)} finding(s)", file=sys.stderr)
            return 0
        try:
            review.resolve(conn, [args.finding_id], args.outcome, args.note, args.by, via=audit.VIA_COMMAND_LINE)
        except review.ReviewRefused as err:
            raise CommandError(str(err), EXIT_CODES["bad input"]) from None
    print(f"{args.finding_id} resolved as {args.outcome}; the next run releases what it held")
    return 0


def _read_password() -> str:
    """One line from standard input (typed twice, unechoed, at a terminal)."""
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise CommandError("the two passwords differ", EXIT_CODES["bad input"])
        return first
    return sys.stdin.readline().rstrip("\r\n")


def cmd_users(args: argparse.Namespace) -> int:
    import getpass

    from vigil_app import accounts

    password = _read_password()
    db.prepare()
    with db.transaction() as conn:
        try:
            done = accounts.add_user(conn, args.name, args.role, password, actor=f"{getpass.getuser()} (shell)")
        except accounts.AccountError as err:
            raise CommandError(str(err), EXIT_CODES["bad input"]) from None
    print(f"user {args.name} {done} with role {args.role}")
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    """`dagster dev` in a process group of its own, recorded as service `ui`: stopping
    `vigil ui` (Ctrl-C, SIGTERM, `vigil stop`) stops the webserver, daemon and code server."""
    from vigil_app.pipeline import use_payment_provider

    config.payments_mode()
    if services.running("ui") is not None:
        raise CommandError("`vigil ui` already runs for this VIGIL_HOME; `vigil stop` stops it",
                           EXIT_CODES["bad input"])
    services.prepare_instance()
    use_payment_provider()
    root = Path(__file__).resolve().parents[1]
    dagster = Path(sys.executable).parent / "dagster"
    argv = [str(dagster), "dev", "-w", str(root / "workspace.yaml"), "-h", args.host, "-p", str(args.port)]
    process = subprocess.Popen(argv, cwd=root, env=os.environ.copy(), start_new_session=True)
    service = services.record("ui", process.pid, args.port)
    try:
        return process.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # a second Ctrl-C must not cut this short
            signal.signal(signum, signal.SIG_IGN)
        services.stop_group(service.pid)
        process.wait()
        services.stop("ui")


def cmd_serve(args: argparse.Namespace) -> int:
    """The web application (portal, console, webhooks) in the foreground; uvicorn stops it
    cleanly on SIGINT and SIGTERM. In test mode (VIGIL_PAYMENTS=local) localstripe answers
    the portal's payments and, with STRIPE_WEBHOOK_SECRET set, posts its signed events to
    this server's /webhooks/stripe."""
    import uvicorn

    from vigil_app.pipeline import use_payment_provider
    from vigil_app.web.app import create_app

    db.prepare()
    if use_payment_provider() == "local" and os.environ.get("STRIPE_WEBHOOK_SECRET"):
        from vigil_app.demo.localstripe import send_webhooks_to

        send_webhooks_to(os.environ["STRIPE_API_BASE"], f"http://{args.host}:{args.port}/webhooks/stripe",
                         os.environ["STRIPE_WEBHOOK_SECRET"])
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="warning",
                proxy_headers=args.behind_proxy, forwarded_allow_ips="*" if args.behind_proxy else None)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """The deployment's migration step (the Helm hook Job, the compose `migrate` service):
    databases present, pending migrations applied in order, nothing else started."""
    params = db.ensure_databases()
    conn = db.connect()
    try:
        applied = db.migrate(conn)
    finally:
        conn.close()
    where = params.describe()
    print(f"applied {', '.join(applied)} to {where}" if applied else f"{where} is up to date", file=sys.stderr)
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    stopped = services.stop_all()
    print(f"stopped {', '.join(stopped)}" if stopped else "nothing of this VIGIL_HOME was running",
          file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="vigil", description="Billing pipeline for security-services companies. "
                    "State lives under $VIGIL_HOME (default ./.vigil).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="simulate every source system and run the whole pipeline",
                          description="Simulate a security company's source systems into an inbox under "
                          "$VIGIL_HOME/demo, run every day through Dagster and print a summary. "
                          "Payments go to localstripe unless VIGIL_PAYMENTS says otherwise.")
    demo.add_argument("--days", type=_positive, default=35, help="days to simulate, ending 2026-10-31 (default 35)")
    demo.add_argument("--clients", type=_positive, default=6,
                      help="number of clients (default 6: one for each path of collections)")
    demo.add_argument("--seed", type=int, default=7, help="random seed: same seed, same data (default 7)")
    demo.add_argument("--json", action="store_true", help="print the summary as one JSON object on the last line")
    demo.set_defaults(func=cmd_demo)

    run = sub.add_parser("run", help="ingest an inbox and run every day of a range as one backfill",
                         description="Ingest every file under the inbox, then run every business day from "
                         "--from through --through as one Dagster run. A day that is not over yet in the "
                         "company's and every site's timezone (or after VIGIL_TODAY) is refused.")
    run.add_argument("--inbox", required=True, metavar="DIR", help="the inbox folder (interfaces.md section 2)")
    run.add_argument("--from", dest="date_from", type=_date, metavar="YYYY-MM-DD",
                     help="first day to run (default: the earliest service or contract start date)")
    run.add_argument("--through", required=True, type=_date, metavar="YYYY-MM-DD",
                     help="last day to run; invoices whose issue date is on or before it are issued")
    run.add_argument("--json", action="store_true", help="print the summary as one JSON object on the last line")
    run.set_defaults(func=cmd_run)

    export = sub.add_parser("export", help="write invoices, findings, quarantined records, messages, payments, "
                            "the collections hand-off, renewals or accounting files",
                            description="Write what the pipeline produced (interfaces.md sections 1, 4, 5 and 6).")
    export.add_argument("what", choices=["invoices", "findings", "quarantine", "messages", "payments", "collections",
                                         "renewals", "accounting"], help="what to write")
    export.add_argument("--out", required=True, metavar="FILE", help="the file to write (replaced)")
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl",
                        help="invoices and collections: one JSON object a line (default) or CSV (invoices: one row "
                        "per line item)")
    export.add_argument("--target", choices=["xero", "quickbooks", "journal"],
                        help="accounting only: Xero's or QuickBooks Online's invoice import CSV, or double-entry "
                        "journal lines (docs/invoices.md)")
    export.add_argument("--from", dest="date_from", type=_date, metavar="YYYY-MM-DD",
                        help="accounting only: first issue date (default: the first invoice)")
    export.add_argument("--through", type=_date, metavar="YYYY-MM-DD",
                        help="accounting only: last issue date (default: the last invoice)")
    export.add_argument("--inbox", metavar="DIR",
                        help="accounting only: the inbox whose accounting.yaml gives the account codes "
                        "(default: VIGIL_INBOX, else $VIGIL_HOME/inbox; without one, the documented defaults)")
    export.set_defaults(func=cmd_export)

    findings = sub.add_parser("findings", help="review validation findings",
                              description="List validation findings or close one (billing-rules section 10).")
    fsub = findings.add_subparsers(dest="action", required=True, metavar="ACTION")
    flist = fsub.add_parser("list", help="list findings", description="List findings for review.")
    flist.add_argument("--status", help="only findings with this status (open, excluded, billed_as_is, corrected)")
    flist.add_argument("--client", metavar="CLIENT_ID", help="only this client's findings")
    resolve = fsub.add_parser("resolve", help="close a finding",
                              description="Close a finding; the next run releases the invoices it held.")
    resolve.add_argument("finding_id", help="the finding's id (from `vigil findings list`)")
    resolve.add_argument("--as", dest="outcome", required=True, choices=["excluded", "billed_as_is", "corrected"],
                         help="the outcome: leave the record out, bill it as delivered, or it was corrected")
    resolve.add_argument("--note", required=True, help="why (kept with the review)")
    resolve.add_argument("--by", required=True, metavar="NAME", help="who reviewed it")
    findings.set_defaults(func=cmd_findings)

    users = sub.add_parser("users", help="manage the finance console's users",
                           description="Console users (interfaces.md section 7): finance may resolve findings, "
                           "viewer reads everything and changes nothing.")
    usub = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    uadd = usub.add_parser("add", help="create or update a user (password from standard input)",
                           description="Create a user, or change an existing user's role and password (their open "
                           "sessions end). The password is read from standard input (one line; at a terminal, "
                           "typed twice) and stored only as a salted scrypt hash.")
    uadd.add_argument("name", help="the sign-in name (letters, digits, '.', '_', '@', '-')")
    uadd.add_argument("--role", required=True, choices=["finance", "viewer"],
                      help="finance: reads and resolves findings; viewer: reads only")
    users.set_defaults(func=cmd_users)

    ui = sub.add_parser("ui", help="serve the Dagster UI (with its daemon) on the same instance and data",
                        description="Run the Dagster UI, daemon (schedule, sensors) and code server on this "
                        "VIGIL_HOME's instance until interrupted; `vigil stop` stops them too.")
    ui.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    ui.add_argument("--port", type=int, default=3000, help="port to listen on (default 3000)")
    ui.set_defaults(func=cmd_ui)

    serve = sub.add_parser("serve", help="serve the client portal, finance console and provider webhooks",
                           description="Serve the web application of interfaces.md section 7 until interrupted. "
                           "Links in messages point at VIGIL_PUBLIC_URL.")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    serve.add_argument("--behind-proxy", action="store_true",
                       help="trust X-Forwarded-* headers (https termination at a reverse proxy)")
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="bring the warehouse schema up to date and exit",
                             description="Create the databases if missing and apply pending migrations "
                             "(vigil/migrations) to DATABASE_URL or the embedded server: the deployment's "
                             "migration step, run once per release, not by every run.")
    migrate.set_defaults(func=cmd_migrate)

    stop = sub.add_parser("stop", help="stop everything vigil started for this VIGIL_HOME",
                          description="Stop this VIGIL_HOME's `vigil ui` (webserver, daemon, code server), "
                          "localstripe and embedded PostgreSQL server.")
    stop.set_defaults(func=cmd_stop)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = {signum: signal.getsignal(signum) for signum in handled} if in_main_thread else {}
    _signals_received.clear()
    for signum in previous:
        signal.signal(signum, _interrupt)
    try:
        code, message = _run(args)
    finally:  # called in-process (tests), the caller's handlers come back
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if message:
        print(f"vigil: {message}", file=sys.stderr)
    return code


def _run(args: argparse.Namespace) -> tuple[int, str | None]:
    from vigil_app.pipeline import BadInput, DayNotOver, PipelineError

    try:
        return args.func(args), None
    except CommandError as err:
        code, message = err.exit_code, str(err)
    except DayNotOver as err:
        code, message = EXIT_CODES["day not over"], str(err)
    except BadInput as err:
        code, message = EXIT_CODES["bad input"], str(err)
    except PipelineError as err:
        code, message = EXIT_CODES["run failed"], str(err)
    except config.ConfigError as err:
        code, message = EXIT_CODES["bad input"], str(err)
    except db.DatabaseUnavailable as err:
        code, message = EXIT_CODES["database unreachable"], str(err)
    except psycopg2.Error as err:
        code, message = EXIT_CODES["run failed"], "database error: " + (str(err).strip().splitlines() or ["?"])[0]
    except KeyboardInterrupt:
        code, message = EXIT_CODES["interrupted (SIGINT)"], "interrupted"
    if _signals_received:
        signum = _signals_received[-1]
        code, message = 128 + signum, f"stopped by {signal.Signals(signum).name}"
    return code, message


if __name__ == "__main__":
    sys.exit(main())
