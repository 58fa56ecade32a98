"""Bearer-token credentials: a JSON file of token hashes, principals and roles.

The file lives outside the repository (default `var/credentials.json`); only SHA-256 hashes of
tokens are stored. On a first run `ensure_demo` creates one principal per role and writes the
clear tokens to `var/demo-credentials.json` for the person running the demo.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

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
    """Token hash -> principal, loaded from the credentials file."""

    def __init__(self, by_hash: dict[str, Principal]) -> None:
        self._by_hash = by_hash

    @classmethod
    def load(cls, path: Path) -> CredentialStore:
        """Read the file; a missing file means nobody can sign in."""
        if not path.exists():
            return cls({})
        data = json.loads(path.read_text())
        return cls(
            {
                entry["sha256"]: Principal(entry["principal"], frozenset(entry["roles"]))
                for entry in data["tokens"]
            }
        )

    def authenticate(self, token: str) -> Principal | None:
        """The principal owning `token`, if any (constant-time on the hash lookup)."""
        return self._by_hash.get(token_hash(token))

    def principals(self) -> list[Principal]:
        """Every known principal."""
        return list(self._by_hash.values())


def add_principal(path: Path, principal: str, roles: list[str]) -> str:
    """Create a token for `principal`, store its hash, return the clear token once."""
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise ValueError(f"unknown roles {unknown}; known: {list(ROLES)}")
    data = json.loads(path.read_text()) if path.exists() else {"tokens": []}
    token = "sf_" + secrets.token_urlsafe(24)
    data["tokens"].append({"principal": principal, "roles": roles, "sha256": token_hash(token)})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    path.chmod(0o600)
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
    demo_file.write_text(json.dumps(demo, indent=2))
    demo_file.chmod(0o600)
    return demo
