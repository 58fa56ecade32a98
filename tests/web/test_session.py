"""Sign-in, the signed session cookie and CSRF, in-process (no browser, no Temporal needed)."""

from __future__ import annotations

import re
import stat
from collections.abc import AsyncIterator

import httpx
import pytest

from api.main import create_app
from api.web.session import COOKIE
from config import Settings


@pytest.fixture
async def client(
    settings: Settings, store_url: str, demo_tokens: dict[str, dict[str, str]]
) -> AsyncIterator[httpx.AsyncClient]:
    """The app in-process; Temporal is connected lazily and never called by these pages."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "every form carries the CSRF token"
    return found.group(1)


async def test_sign_in_sets_a_signed_lax_http_only_cookie(
    client: httpx.AsyncClient, settings: Settings, demo_tokens: dict[str, dict[str, str]]
) -> None:
    r = await client.get("/web/inbox", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/web/signin")
    page = await client.get("/web/signin?next=/web/inbox")
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    secret = settings.var_dir / "session-secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    agent = demo_tokens["agent"]
    # no CSRF token: refused before the token is even looked at
    r = await client.post("/web/signin", data={"token": agent["token"], "next": "/web/inbox"})
    assert r.status_code == 403
    token = _csrf(page.text)
    r = await client.post(
        "/web/signin", data={"csrf": token, "token": "wrong", "next": "/web/inbox"}
    )
    assert r.status_code == 401 and "Unknown token" in r.text
    r = await client.post(
        "/web/signin",
        data={
            "csrf": token,
            "token": agent["token"],
            "principal": agent["principal"],
            "next": "/web/inbox",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/web/inbox"
    r = await client.get("/web/inbox")
    assert r.status_code == 200 and "agent.li" in r.text
    # the session's CSRF token was renewed at sign-in (no fixation)
    assert _csrf(r.text) != token
    # an agent may not open the policy owner's pages
    assert (await client.get("/web/policies")).status_code == 403
    # a tampered cookie is a signed-out session
    client.cookies.set(COOKIE, client.cookies[COOKIE][:-2] + "xx")
    assert (await client.get("/web/inbox", follow_redirects=False)).status_code == 303


async def test_open_redirects_and_language(
    client: httpx.AsyncClient, demo_tokens: dict[str, dict[str, str]]
) -> None:
    page = await client.get("/web/signin?lang=zh")
    assert "登录" in page.text and 'lang="zh-CN"' in page.text
    r = await client.post(
        "/web/signin",
        data={
            "csrf": _csrf(page.text),
            "token": demo_tokens["auditor"]["token"],
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/web/"
    r = await client.get("/web/audit")
    assert "审计链" in r.text  # the language stays with the session
    r = await client.get("/web/audit?lang=en")
    assert "Audit chain" in r.text
