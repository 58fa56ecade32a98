"""Signed session cookies for the web pages: who is signed in, the CSRF token, the language.

The cookie is signed (itsdangerous) with a key derived from a random secret kept in
`<var_dir>/session-secret`, created on first use with mode 0600 and never committed. The cookie
holds the principal's name, not the bearer token: on every request the roles are re-read from
the credential store, so a revoked token's principal is signed out at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from api.deps import state
from store.credentials import Principal

COOKIE = "segflow_session"
MAX_AGE = 12 * 3600  # a working day: phones stay signed in through a shift, not for weeks
LANGS = ("en", "zh")


def session_secret(var_dir: Path) -> bytes:
    """The signing secret, created once (O_EXCL, so two processes starting agree on one)."""
    path = var_dir / "session-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def _signer(request: Request) -> URLSafeTimedSerializer:
    cached: URLSafeTimedSerializer | None = getattr(request.app.state, "web_signer", None)
    if cached is None:
        secret = session_secret(state(request).settings.var_dir)
        # a derived key, so the raw secret never signs anything directly
        key = hashlib.sha256(b"segflow-web-session\0" + secret).hexdigest()
        cached = URLSafeTimedSerializer(key, salt="segflow.web")
        request.app.state.web_signer = cached
    return cached


@dataclass
class WebSession:
    """The decoded session plus the principal it names (None when signed out)."""

    data: dict[str, Any] = field(default_factory=dict)
    principal: Principal | None = None

    @property
    def csrf(self) -> str:
        """Per-session token every form echoes in a hidden field."""
        token: str = self.data.setdefault("csrf", secrets.token_urlsafe(24))
        return token

    @property
    def lang(self) -> str:
        """en or zh."""
        return str(self.data.get("lang", "en"))

    def csrf_ok(self, sent: str | None) -> bool:
        """Constant-time comparison of a submitted token with the session's."""
        return bool(sent) and hmac.compare_digest(str(sent), self.csrf)

    def flash(self, message: str) -> None:
        """A message for the next page (post/redirect/get)."""
        self.data["flash"] = message

    def pop_flash(self) -> str | None:
        """The pending message, once."""
        value = self.data.pop("flash", None)
        return str(value) if value else None

    def sign_in(self, principal: Principal) -> None:
        """Bind the session to `principal` with a fresh CSRF token (no session fixation)."""
        self.data = {"lang": self.lang, "p": principal.name, "csrf": secrets.token_urlsafe(24)}
        self.principal = principal

    def sign_out(self) -> None:
        """Forget the principal; keep the language."""
        self.data = {"lang": self.lang}
        self.principal = None


def _principal(request: Request, name: str) -> Principal | None:
    """The named principal with the roles the credential store gives it now."""
    roles: set[str] = set()
    for p in state(request).credentials.principals():
        if p.name == name:
            roles |= p.roles
    return Principal(name, frozenset(roles)) if roles else None


def load(request: Request) -> WebSession:
    """The request's session (fresh when absent, expired or tampered with)."""
    data: dict[str, Any] = {}
    raw = request.cookies.get(COOKIE)
    if raw:
        try:
            loaded = _signer(request).loads(raw, max_age=MAX_AGE)
            data = loaded if isinstance(loaded, dict) else {}
        except BadSignature:
            data = {}
    sess = WebSession(data)
    if "lang" not in data:
        accept = request.headers.get("accept-language", "")
        data["lang"] = "zh" if accept.lower().startswith("zh") else "en"
    wanted = request.query_params.get("lang")
    if wanted in LANGS:
        data["lang"] = wanted
    name = data.get("p")
    if isinstance(name, str):
        sess.principal = _principal(request, name)
        if sess.principal is None:
            sess.sign_out()
    return sess


def save(request: Request, response: Response, sess: WebSession) -> Response:
    """Write the (re-signed) cookie onto `response`."""
    response.set_cookie(
        COOKIE,
        _signer(request).dumps(sess.data),
        max_age=MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response
