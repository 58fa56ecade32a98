"""Sessions and credentials: the roles of the token presented (not of every token of that
name), revocation without a restart (API and pages), absolute expiry, server-side sign-out
(a copied cookie stays signed out), secret files 0600 and a short secret refused."""

from __future__ import annotations

import asyncio
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from api.main import create_app
from api.web.session import COOKIE, MAX_AGE
from config import Settings
from store import credentials
from tests.web.test_session import _csrf


@pytest.fixture
async def app_client(
    settings: Settings, store_url: str, demo_tokens: dict[str, dict[str, str]]
) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c, app


async def _sign_in(client: httpx.AsyncClient, token: str) -> None:
    page = await client.get("/web/signin")
    r = await client.post(
        "/web/signin", data={"csrf": _csrf(page.text), "token": token, "next": "/web/"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303, r.text


async def test_roles_come_from_the_token_presented(
    app_client: tuple[httpx.AsyncClient, object], settings: Settings
) -> None:
    client, _ = app_client
    # agent.li also holds a policy_owner token; signing in with the agent token gives agent only
    credentials.add_principal(settings.credentials_path, "agent.li", ["policy_owner"])
    demo = credentials.ensure_demo(
        settings.credentials_path, settings.var_dir / "demo-credentials.json"
    )
    await asyncio.sleep(1.1)  # the credential store re-reads the changed file
    await _sign_in(client, demo["agent"]["token"])
    assert (await client.get("/web/inbox")).status_code == 200
    assert (await client.get("/web/policies")).status_code == 403


async def test_revocation_takes_effect_without_a_restart(
    app_client: tuple[httpx.AsyncClient, object], settings: Settings,
    demo_tokens: dict[str, dict[str, str]],
) -> None:  # fmt: skip
    client, _ = app_client
    token = demo_tokens["auditor"]["token"]
    await _sign_in(client, token)
    assert (await client.get("/web/audit")).status_code == 200
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/v1/audit", headers=bearer)).status_code == 200
    assert credentials.revoke_principal(settings.credentials_path, "auditor.chen") == 1
    await asyncio.sleep(1.1)
    assert (await client.get("/v1/audit", headers=bearer)).status_code == 401
    assert (await client.get("/web/audit", follow_redirects=False)).status_code == 303


async def test_absolute_expiry_and_server_side_sign_out(
    app_client: tuple[httpx.AsyncClient, object], demo_tokens: dict[str, dict[str, str]]
) -> None:
    client, app = app_client
    await _sign_in(client, demo_tokens["agent"]["token"])
    copied = client.cookies[COOKIE]
    assert (await client.get("/web/inbox")).status_code == 200
    page = await client.get("/web/inbox")
    r = await client.post("/web/signout", data={"csrf": _csrf(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    client.cookies.clear()
    client.cookies.set(COOKIE, copied)  # the cookie from before the sign-out, replayed
    assert (await client.get("/web/inbox", follow_redirects=False)).status_code == 303
    client.cookies.clear()

    await _sign_in(client, demo_tokens["agent"]["token"])
    signer = app.state.web_signer  # type: ignore[attr-defined]
    data = signer.loads(client.cookies[COOKIE])
    old = signer.dumps({**data, "iat": int(time.time()) - MAX_AGE - 5})  # re-signed just now
    client.cookies.clear()
    client.cookies.set(COOKIE, old)
    assert (await client.get("/web/inbox", follow_redirects=False)).status_code == 303


def test_secret_files_are_private_and_short_secrets_refused(
    settings: Settings, demo_tokens: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    for path in (settings.credentials_path, settings.var_dir / "demo-credentials.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    short = settings.model_copy(update={"var_dir": tmp_path / "short"})
    short.var_dir.mkdir()
    (short.var_dir / "session-secret").write_text("tooshort\n")
    app = create_app(short)

    async def start() -> None:
        async with app.router.lifespan_context(app):
            pass

    with pytest.raises(ValueError, match="session secret shorter"):
        asyncio.run(start())


async def test_security_headers_and_docs_setting(
    app_client: tuple[httpx.AsyncClient, object], settings: Settings, store_url: str
) -> None:
    client, _ = app_client
    page = await client.get("/web/signin")
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in page.headers  # plain http, HSTS not forced
    assert (await client.get("/docs")).status_code == 200
    hidden = settings.model_copy(update={"expose_docs": False, "hsts": True})
    app = create_app(hidden)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            for path in ("/docs", "/redoc", "/openapi.json"):
                assert (await c.get(path)).status_code == 404, path
            r = await c.get("/healthz")
            assert r.headers["strict-transport-security"].startswith("max-age=")
