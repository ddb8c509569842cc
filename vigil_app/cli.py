"""The `vigil` command (interfaces.md section 1)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from vigil import config, db, services
from vigil_app import reports


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not a YYYY-MM-DD date") from err


def _print_summary(summary: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, sort_keys=False))
        return
    inv, pay = summary["invoices"], summary["payments"]
    print("ingested:    " + ", ".join(f"{k} {v}" for k, v in summary["ingested"].items()))
    print("quarantined: " + (", ".join(f"{k} {v}" for k, v in summary["quarantined"].items()) or "none"))
    print("findings:    " + (", ".join(f"{k} {v}" for k, v in summary["findings"].items()) or "none"))
    print(f"invoices:    {inv['issued']} issued ({inv['total']}), {inv['held']} held")
    print(f"payments:    {pay['succeeded']} succeeded ({pay['amount']}), {pay['failed']} failed")
    print("messages:    " + (", ".join(f"{k} {v}" for k, v in summary["messages"].items()) or "none"))


def _summary() -> dict:
    with db.transaction() as conn:
        return reports.summary(conn)


def cmd_run(args: argparse.Namespace) -> int:
    from vigil_app.pipeline import run_range

    run_range(Path(args.inbox), args.date_from, args.through)
    _print_summary(_summary(), args.json)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from vigil_app.demo import VENDOR_FOLDERS, build_demo_inbox
    from vigil_app.pipeline import run_range

    inbox = config.paths().home / "demo" / "inbox"
    manifest = build_demo_inbox(inbox, days=args.days, clients=args.clients, seed=args.seed)
    if not args.json:
        print(f"simulated {args.days} days for {args.clients} clients into {inbox} "
              f"(generic feeds and {', '.join(VENDOR_FOLDERS)})")
    run_range(inbox, manifest.start, manifest.end)
    _print_summary(_summary(), args.json)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    out = Path(args.out)
    db.prepare()
    with db.transaction() as conn:
        if args.what == "invoices":
            n = reports.write_invoices(conn, out, args.format)
        elif args.what == "findings":
            n = reports.write_jsonl(reports.findings(conn), out)
        else:
            n = reports.write_jsonl(reports.quarantine(conn), out)
    print(f"wrote {n} {args.what} to {out}", file=sys.stderr)
    return 0


def cmd_findings(args: argparse.Namespace) -> int:
    db.prepare()
    with db.transaction() as conn:
        if args.action == "list":
            rows = reports.findings(conn, status=args.status, client=args.client)
            for r in rows:
                print(f"{r['finding_id']}  {r['severity']:<8} {r['status']:<12} {r['type']:<26} "
                      f"{r['client_id'] or '-':<8} {r['service_date'] or '-':<10} {r['message']}")
            print(f"{len(rows)} finding(s)", file=sys.stderr)
            return 0
        with conn.cursor() as cur:
            cur.execute("select 1 from marts.fct_findings where finding_id = %s", (args.finding_id,))
            if cur.fetchone() is None:
                print(f"vigil: no finding {args.finding_id!r}", file=sys.stderr)
                return 2
            cur.execute(
                """insert into billing.finding_reviews (finding_id, status, note, reviewed_by)
                   values (%s, %s, %s, %s)
                   on conflict (finding_id) do update set status = excluded.status, note = excluded.note,
                       reviewed_by = excluded.reviewed_by, reviewed_at = now()""",
                (args.finding_id, args.outcome, args.note, args.by),
            )
    print(f"{args.finding_id} resolved as {args.outcome}; the next run releases what it held")
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    services.prepare_instance()
    services.use_local_payment_provider()
    root = Path(__file__).resolve().parents[1]
    cmd = ["dagster", "dev", "-w", str(root / "workspace.yaml"), "-h", args.host, "-p", str(args.port)]
    bindir = Path(sys.executable).parent
    return subprocess.call([str(bindir / cmd[0]), *cmd[1:]], cwd=root, env=os.environ.copy())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vigil", description="Billing pipeline for security-services companies.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="simulate every source system and run the whole pipeline")
    demo.add_argument("--days", type=int, default=35)
    demo.add_argument("--clients", type=int, default=4)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--json", action="store_true")
    demo.set_defaults(func=cmd_demo)

    run = sub.add_parser("run", help="ingest an inbox and run every day of a range as one backfill")
    run.add_argument("--inbox", required=True)
    run.add_argument("--from", dest="date_from", type=_date)
    run.add_argument("--through", required=True, type=_date)
    run.add_argument("--json", action="store_true")
    run.set_defaults(func=cmd_run)

    export = sub.add_parser("export", help="write invoices, findings or quarantined records")
    export.add_argument("what", choices=["invoices", "findings", "quarantine"])
    export.add_argument("--out", required=True)
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    export.set_defaults(func=cmd_export)

    findings = sub.add_parser("findings", help="review validation findings")
    fsub = findings.add_subparsers(dest="action", required=True)
    flist = fsub.add_parser("list")
    flist.add_argument("--status")
    flist.add_argument("--client")
    resolve = fsub.add_parser("resolve")
    resolve.add_argument("finding_id")
    resolve.add_argument("--as", dest="outcome", required=True, choices=["excluded", "billed_as_is", "corrected"])
    resolve.add_argument("--note", required=True)
    resolve.add_argument("--by", required=True)
    findings.set_defaults(func=cmd_findings)

    ui = sub.add_parser("ui", help="serve the Dagster UI (with its daemon) on the same instance and data")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=cmd_ui)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except Exception as err:  # noqa: BLE001 - one clear line for the user, not a traceback
        from vigil_app.pipeline import PipelineError

        if isinstance(err, PipelineError | FileNotFoundError | ValueError):
            print(f"vigil: {err}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
