"""The `segflow` command: the dev stack, the worker, the outbox relay, migrations,
credentials and policy tools."""

from __future__ import annotations

import argparse
import json
import sys

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
    from rules import cli as rules_cli

    rules_cli.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse and dispatch; the exit code of the subcommand."""
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
