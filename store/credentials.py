"""Bearer-token credentials: a JSON file of token hashes, principals and roles.

The file lives outside the repository (default `var/credentials.json`); only SHA-256 hashes of
tokens are stored, and the file is written atomically with mode 0600. The store re-reads the
file when it changes (checked at most once a second), so removing a token revokes it without
a restart. On a first run `ensure_demo` creates one principal per role and writes the clear
tokens to `var/demo-credentials.json` (0600) for the person running the demo.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from store.files import write_private

ROLES = ("policy_owner", "crm", "agent", "inspector", "supervisor", "auditor", "admin")
DEMO_PRINCIPALS = {
    "policy_owner": "policy.owner",
    "crm": "crm.system",
    "agent": "agent.li",
    "inspector": "inspector.wang",
    "supervisor": "supervisor.zhao",
    "auditor": "auditor.chen",
    "admin": "admin",
}


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    name: str
    roles: frozenset[str]

    def has(self, *roles: str) -> bool:
        """True when the caller holds any of `roles` (admin holds all)."""
        return "admin" in self.roles or any(r in self.roles for r in roles)


def token_hash(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


class CredentialStore:
    """Token hash -> principal, loaded from the credentials file and re-read when it changes."""

    RECHECK_SECONDS = 1.0

    def __init__(self, by_hash: dict[str, Principal], path: Path | None = None) -> None:
        self._by_hash = by_hash
        self._path = path
        self._stamp = self._stat()
        self._checked = time.monotonic()
        self._lock = threading.Lock()

    @staticmethod
    def _read(path: Path) -> dict[str, Principal]:
        if not path.exists():
            return {}
        data = json.loads(path.read_text())
        return {
            entry["sha256"]: Principal(entry["principal"], frozenset(entry["roles"]))
            for entry in data["tokens"]
        }

    def _stat(self) -> tuple[int, int] | None:
        if self._path is None:
            return None
        try:
            st = self._path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _fresh(self) -> dict[str, Principal]:
        if self._path is None or time.monotonic() - self._checked < self.RECHECK_SECONDS:
            return self._by_hash
        with self._lock:
            self._checked = time.monotonic()
            stamp = self._stat()
            if stamp != self._stamp:
                # files are replaced atomically, so a read never sees half a file
                self._by_hash, self._stamp = self._read(self._path), stamp
        return self._by_hash

    @classmethod
    def load(cls, path: Path) -> CredentialStore:
        """Read the file (a missing file means nobody can sign in) and watch it."""
        return cls(cls._read(path), path)

    def authenticate(self, token: str) -> Principal | None:
        """The principal owning `token`, if any (a lookup by the token's hash)."""
        return self._fresh().get(token_hash(token))

    def by_token_hash(self, digest: str) -> Principal | None:
        """The principal of a token known by its hash (web sessions keep only the hash)."""
        return self._fresh().get(digest)

    def principals(self) -> list[Principal]:
        """Every known principal."""
        return list(self._fresh().values())


def add_principal(path: Path, principal: str, roles: list[str]) -> str:
    """Create a token for `principal`, store its hash, return the clear token once."""
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise ValueError(f"unknown roles {unknown}; known: {list(ROLES)}")
    data = json.loads(path.read_text()) if path.exists() else {"tokens": []}
    token = "sf_" + secrets.token_urlsafe(24)
    data["tokens"].append({"principal": principal, "roles": roles, "sha256": token_hash(token)})
    write_private(path, json.dumps(data, indent=2))
    return token


def ensure_demo(credentials: Path, demo_file: Path) -> dict[str, dict[str, str]]:
    """Create demo principals for every role once; later runs return the same tokens."""
    if demo_file.exists() and credentials.exists():
        loaded: dict[str, dict[str, str]] = json.loads(demo_file.read_text())
        return loaded
    demo = {
        role: {"principal": name, "token": add_principal(credentials, name, [role])}
        for role, name in DEMO_PRINCIPALS.items()
    }
    # a second inspector, so the "only my own tasks" rule is visible in the demo
    demo["inspector_2"] = {
        "principal": "inspector.liu",
        "token": add_principal(credentials, "inspector.liu", ["inspector"]),
    }
    write_private(demo_file, json.dumps(demo, indent=2))
    return demo


def revoke_principal(path: Path, principal: str) -> int:
    """Remove every token of `principal`; running servers notice within a second."""
    data = json.loads(path.read_text()) if path.exists() else {"tokens": []}
    kept = [t for t in data["tokens"] if t["principal"] != principal]
    removed = len(data["tokens"]) - len(kept)
    write_private(path, json.dumps({**data, "tokens": kept}, indent=2))
    return removed
