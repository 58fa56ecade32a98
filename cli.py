"""The `segflow` command: the dev stack, the worker, the outbox relay, migrations,
credentials, bulk import and policy tools."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from config import Settings


def _dev(_: argparse.Namespace) -> int:
    import devstack

    return devstack.run(Settings())


def _worker(_: argparse.Namespace) -> int:
    import worker

    worker.main()
    return 0


def _relay(_: argparse.Namespace) -> int:
    import asyncio
    import contextlib
    import logging

    import worker

    settings = Settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(worker.run_relay(settings))
    return 0


def _migrate(_: argparse.Namespace) -> int:
    from store import db

    settings = Settings()
    db.upgrade(settings.store_url)
    print(f"store at {settings.store_url} is up to date")
    return 0


def _add_token(args: argparse.Namespace) -> int:
    from store.credentials import add_principal

    settings = Settings()
    token = add_principal(settings.credentials_path, args.principal, args.roles)
    print(json.dumps({"principal": args.principal, "roles": args.roles, "token": token}))
    return 0


def _import(args: argparse.Namespace) -> int:
    """Exit 0: every line stored; 1: some lines refused (the rest stored); 2: unreadable."""
    import asyncio
    from pathlib import Path

    from temporalio.client import Client
    from tqdm import tqdm

    from services import importer
    from store import db

    settings = Settings()
    path = Path(args.file)
    if not path.is_file():
        print(f"{path}: no such file", file=sys.stderr)
        return 2
    with path.open("rb") as handle:
        lines = sum(1 for _ in handle)
    bars: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            unit = "lines" if stage == "import" else "customers"
            bar = bars[stage] = tqdm(total=total or lines, desc=stage, unit=f" {unit}",
                                     file=sys.stderr, disable=args.quiet)  # fmt: skip
        if total and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    async def go() -> importer.ImportReport:
        client = None
        if not args.no_run:
            client = await Client.connect(
                settings.temporal_address, **settings.temporal_connect_options()
            )
        return await importer.run_import(
            db.session_factory(db.make_engine(settings.store_url)), client, path,
            actor=args.actor, task_queue=settings.task_queue,
            control_queue=settings.control_queue, concurrency=settings.start_concurrency,
            chunk=args.chunk, on_progress=progress,
        )  # fmt: skip

    try:
        report = asyncio.run(go())
    except (OSError, UnicodeDecodeError) as err:
        print(f"{path}: {err}", file=sys.stderr)
        return 2
    finally:
        for bar in bars.values():
            bar.close()
    for bad in report.bad:
        for line in bad.render(path):
            print(line, file=sys.stderr)
    summary: dict[str, Any] = {
        "lines": report.lines, "stored": report.stored, "created": report.created,
        "updated": report.updated, "bad_lines": len(report.bad), "changed": report.changed,
        "transitions": report.transitions,
    }  # fmt: skip
    if report.run is not None:
        summary["population_run"] = {
            "run_id": report.run.run_id, "customers": report.run.done,
            "changed": report.run.changed, "seconds": round(report.run.seconds, 1),
            "processes_started": report.run.processes_started,
        }  # fmt: skip
    print(json.dumps(summary))
    return 1 if report.bad else 0


def build_parser() -> argparse.ArgumentParser:
    """Every subcommand."""
    parser = argparse.ArgumentParser(prog="segflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("dev", help="run the embedded stack (same as `make run`)").set_defaults(
        func=_dev
    )
    sub.add_parser("worker", help="run a Temporal worker").set_defaults(func=_worker)
    sub.add_parser(
        "relay", help="run an outbox relay alone (workers run one each already)"
    ).set_defaults(func=_relay)
    sub.add_parser("migrate", help="apply the store's migrations").set_defaults(func=_migrate)
    tok = sub.add_parser("token", help="create a bearer token for a principal")
    tok.add_argument("principal")
    tok.add_argument("roles", nargs="+")
    tok.set_defaults(func=_add_token)
    imp = sub.add_parser(
        "import", help="import customers (CSV or JSONL) into the store, then a population run"
    )
    imp.add_argument("file", help="customer records, one per line (JSONL) or row (CSV)")
    imp.add_argument("--chunk", type=int, default=5000, help="records per transaction")
    imp.add_argument("--actor", default="import", help="who the audit log names")
    imp.add_argument(
        "--no-run", action="store_true", help="store only: no Temporal, no population run"
    )
    imp.add_argument("--quiet", action="store_true", help="no progress bars")
    imp.set_defaults(func=_import)
    import cli_foresight
    import cli_security
    from rules import cli as rules_cli

    cli_foresight.register(rules_cli.register(sub))
    cli_security.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse and dispatch; the exit code of the subcommand."""
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
