"""Signed session cookies for the web pages: who is signed in, the CSRF token, the language.

The cookie is signed (itsdangerous) with a key derived from a random secret kept in
`<var_dir>/session-secret`, created on first use atomically with mode 0600 and never
committed; a secret shorter than 32 characters is refused. The cookie holds the SHA-256 of
the token presented at sign-in (never the token): on every request the roles are those of
that one token in the credential store now, so a revoked token signs its sessions out at once
and another token of the same principal lends it nothing. A session ends MAX_AGE after
sign-in however active it is (absolute expiry), and signing out records the session id on
the server, so a copied cookie is signed out too.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from api.deps import state
from store.credentials import Principal, token_hash
from store.files import write_private
from store.models import RevokedSession

COOKIE = "segflow_session"
MAX_AGE = 12 * 3600  # a working day: phones stay signed in through a shift, not for weeks
LANGS = ("en", "zh")
MIN_SECRET = 32


def session_secret(var_dir: Path) -> bytes:
    """The signing secret, created once (atomically, 0600; two processes starting agree on
    the first one). A short or empty secret is refused (ValueError)."""
    path = var_dir / "session-secret"
    if not path.exists():
        write_private(path, secrets.token_hex(32), exclusive=True)
    secret = path.read_text().strip().encode()
    if len(secret) < MIN_SECRET:
        raise ValueError(f"{path}: session secret shorter than {MIN_SECRET} characters")
    return secret


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

    def sign_in(self, principal: Principal, token: str) -> None:
        """Bind the session to the token presented, with a fresh session id and CSRF token
        (no session fixation) and the sign-in time (absolute expiry)."""
        self.data = {
            "lang": self.lang,
            "t": token_hash(token),
            "sid": secrets.token_urlsafe(24),
            "iat": int(time.time()),
            "csrf": secrets.token_urlsafe(24),
        }
        self.principal = principal

    def sign_out(self) -> None:
        """Forget the principal; keep the language."""
        self.data = {"lang": self.lang}
        self.principal = None


def revoked_since(db: Any, since: datetime) -> set[str]:
    """Session ids signed out on the server since `since` (older sessions expired anyway)."""
    return set(db.scalars(select(RevokedSession.sid).where(RevokedSession.revoked_at >= since)))


def _revoked(request: Request) -> set[str]:
    # refreshed from the store every second by the app's lifespan (api/main.py), so no page
    # touches the store on the event loop for it
    found: set[str] = getattr(request.app.state, "revoked_sessions", set())
    return found


def record_sign_out(request: Request, sid: str) -> None:
    """Store a signed-out session id (call it in the thread pool)."""
    with state(request).sessions() as db:
        if db.get(RevokedSession, sid) is None:
            db.add(RevokedSession(sid=sid))
            db.commit()


def sign_out(request: Request, sess: WebSession) -> str | None:
    """Sign out here; returns the session id to record with `record_sign_out` (this process
    refuses it at once, the others within a second)."""
    sid = sess.data.get("sid")
    sess.sign_out()
    if isinstance(sid, str) and sid:
        request.app.state.revoked_sessions = _revoked(request) | {sid}
        return sid
    return None


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
    digest, sid, iat = data.get("t"), data.get("sid"), data.get("iat")
    if "p" in data:
        sess.sign_out()  # a cookie of the earlier form (principal name only): sign in again
    elif isinstance(digest, str):
        fresh = isinstance(iat, int) and 0 <= time.time() - iat <= MAX_AGE
        sess.principal = state(request).credentials.by_token_hash(digest) if fresh else None
        if sess.principal is None or not isinstance(sid, str) or sid in _revoked(request):
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
