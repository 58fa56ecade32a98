"""Browser fixtures: the app served by uvicorn on a real 127.0.0.1 port, a worker on the real
Temporal dev server, and Debian's chromium driven by Playwright (never a downloaded browser).

One live stack per module keeps the browser suite well under a minute and a half.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from temporalio.client import Client

import devstack
import worker
from activities import policy_store
from api.main import create_app
from config import ROOT, Settings
from store import credentials, db

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "tests" / "artifacts" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@dataclass
class Live:
    """The running stack a browser test talks to."""

    base: str
    api: httpx.AsyncClient
    temporal: Client
    settings: Settings
    tokens: dict[str, dict[str, str]]
    browser: Browser

    def auth(self, role: str) -> dict[str, str]:
        """Bearer header of the demo principal of `role` (for seeding through the API)."""
        return {"Authorization": f"Bearer {self.tokens[role]['token']}"}

    async def page(self, viewport: dict[str, int] = DESKTOP, lang: str = "en") -> Page:
        """A fresh browser context (no cookies) and page."""
        context: BrowserContext = await self.browser.new_context(
            viewport=viewport, locale="zh-CN" if lang == "zh" else "en-US"
        )
        return await context.new_page()

    async def sign_in(self, page: Page, role: str, next_path: str = "/web/") -> None:
        """Sign in through the form with the role's demo principal and token."""
        await page.goto(f"{self.base}/web/signin?next={next_path}")
        await page.fill("#principal", self.tokens[role]["principal"])
        await page.fill("#token", self.tokens[role]["token"])
        await page.click("form[action='/web/signin'] button[type=submit]")
        await page.wait_for_load_state()


def shot(name: str) -> str:
    """Where a screenshot goes (the directory is created on first use)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return str(SCREENSHOTS / f"{name}.png")


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test process owns the signals
        pass


@pytest.fixture(scope="module")
def web_settings(
    tmp_path_factory: pytest.TempPathFactory, dev_server: str, unspread_policies: Path
) -> Settings:
    """Isolated store, credentials and session secret; a task queue of our own; first
    call-backs at once."""
    var = tmp_path_factory.mktemp("web") / "var"
    return Settings(
        var_dir=var,
        policies_dir=unspread_policies,
        demo_customers=0,
        temporal_address=dev_server,
        task_queue=f"web-{os.getpid()}",
        api_port=devstack.free_port(),
    )


@pytest.fixture(scope="module")
def served(web_settings: Settings) -> Iterator[str]:
    """The app under uvicorn in a thread, on 127.0.0.1:<free port>."""
    db.upgrade(web_settings.store_url)
    with db.session_factory(db.make_engine(web_settings.store_url)).begin() as s:
        policy_store.activate_directory(s, web_settings.policies_dir, "test")
    credentials.ensure_demo(
        web_settings.credentials_path, web_settings.var_dir / "demo-credentials.json"
    )
    config = uvicorn.Config(
        create_app(web_settings),
        host="127.0.0.1",
        port=web_settings.api_port,
        log_level="warning",
        ws="none",
        lifespan="on",
    )
    server = _Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    try:
        devstack.wait_port("127.0.0.1", web_settings.api_port, 30)
        yield f"http://127.0.0.1:{web_settings.api_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
async def live(web_settings: Settings, served: str) -> AsyncIterator[Live]:
    """Worker + API client + chromium for the module's tests."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing on CI (.ci/run installs it)")
        pytest.skip("chromium not installed (apt-get install chromium)")
    tokens = credentials.ensure_demo(
        web_settings.credentials_path, web_settings.var_dir / "demo-credentials.json"
    )
    client = await Client.connect(web_settings.temporal_address)
    # the worker's outbox relay applies the process transitions the API queues
    fast = web_settings.model_copy(update={"relay_poll_seconds": 0.05})
    relay = worker.build_relay(client, fast, worker.store_sessions(fast))
    stop = asyncio.Event()
    relaying = asyncio.create_task(relay.run(stop))
    with ThreadPoolExecutor(max_workers=16) as executor:
        async with worker.build_worker(client, web_settings, executor), async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )
            async with httpx.AsyncClient(base_url=served, timeout=30) as api:
                try:
                    yield Live(served, api, client, web_settings, tokens, browser)
                finally:
                    await browser.close()
                    stop.set()
                    await relaying


async def wait_for(check: Any, timeout: float = 15.0, every: float = 0.2) -> Any:
    """Poll an async `check` until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {check}")
        await asyncio.sleep(every)


UNLABELLED_JS = """
() => Array.from(document.querySelectorAll('input, select, textarea, button'))
  .filter(el => el.type !== 'hidden')
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !(el.tagName === 'BUTTON' && el.textContent.trim()))
  .map(el => el.outerHTML.slice(0, 120))
"""


async def unlabelled(page: Page) -> list[str]:
    """Form controls with no accessible name (a label, aria-label or button text)."""
    found: list[str] = await page.evaluate(UNLABELLED_JS)
    return found
