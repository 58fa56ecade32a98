"""`segflow audit verify|checkpoint` and `segflow revoke`: the security operations.

`audit verify` walks the hash chain and checks every signed checkpoint with the key from
Settings.audit_key_file (exit 1 on any mismatch, the first bad sequence printed);
`audit checkpoint` signs the current head (cron it, or let the API do it every
audit_checkpoint_seconds); `revoke PRINCIPAL` removes the principal's tokens (running servers
and signed-in pages notice within a second).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from config import Settings
from store import checkpoints, credentials, db


def register(sub: Any) -> None:
    """Add the subcommands to `segflow`."""
    audit = sub.add_parser("audit", help="verify or checkpoint the audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    audit_sub.add_parser("verify", help="check the chain and the signed checkpoints").set_defaults(
        func=cmd_verify
    )
    audit_sub.add_parser("checkpoint", help="sign the current head").set_defaults(
        func=cmd_checkpoint
    )
    revoke = sub.add_parser("revoke", help="remove every token of a principal")
    revoke.add_argument("principal")
    revoke.set_defaults(func=cmd_revoke)


def cmd_verify(_: argparse.Namespace) -> int:
    """Exit 0 when the chain and every checkpoint verify."""
    settings = Settings()
    key = checkpoints.load_key(settings.audit_key_path)
    engine = db.make_engine(settings.store_url)
    try:
        with db.session_factory(engine)() as s:
            report = checkpoints.verify(s, key)
    finally:
        engine.dispose()
    out = {
        "ok": report.ok,
        "entries": report.chain.entries,
        "first_bad_seq": report.chain.first_bad_seq,
        "checkpoints": report.checkpoints,
        "bad_checkpoint_seq": report.bad_checkpoint_seq,
        "reason": report.chain.reason or report.reason,
    }
    print(json.dumps(out))
    return 0 if report.ok else 1


def cmd_checkpoint(_: argparse.Namespace) -> int:
    """Sign the head; prints the checkpoint (or that the head is signed already)."""
    settings = Settings()
    key = checkpoints.load_key(settings.audit_key_path)
    engine = db.make_engine(settings.store_url)
    try:
        with db.session_factory(engine).begin() as s:
            point = checkpoints.take(s, key)
            shown = {"seq": point.seq, "head_hash": point.head_hash} if point else None
    finally:
        engine.dispose()
    print(json.dumps({"checkpoint": shown}))
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    """Remove the principal's tokens from the credentials file."""
    removed = credentials.revoke_principal(Settings().credentials_path, args.principal)
    print(json.dumps({"principal": args.principal, "tokens_removed": removed}))
    return 0 if removed else 1
