"""Plumbing shared by the web pages: templates, role guards, CSRF-checked forms, rendering.

Guards raise `SignInRequired` / `PageForbidden`, answered by handlers `api.web.install`
registers (a redirect to the sign-in page, a 403 page). Business rules are not here: pages
call the services the API routes call, so visibility, validation and audit stay in one place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from api.errors import ApiError
from api.schemas import TaskOut, task_out
from api.web import i18n, session
from api.web.i18n import N_
from api.web.session import WebSession
from services import tasks as task_service
from store.credentials import Principal

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")

# (url, label, roles that see it); admin sees every item
NAV = [
    ("/web/inbox", N_("Inbox"), ("agent", "inspector", "supervisor")),
    ("/web/supervisor", N_("Supervisor"), ("supervisor",)),
    ("/web/policies", N_("Policies"), ("policy_owner",)),
    ("/web/audit", N_("Audit"), ("auditor", "supervisor")),
    ("/web/kpi", N_("KPIs"), ("auditor", "supervisor", "policy_owner")),
    ("/web/outages", N_("Outage planning"), ("supervisor", "auditor")),
]


class SignInRequired(Exception):
    """No signed-in principal: go to the sign-in page and come back."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class PageForbidden(Exception):
    """Signed in, but the role does not admit this page or action."""

    def __init__(self, sess: WebSession, message: str = N_("You may not open this page.")) -> None:
        super().__init__(message)
        self.sess, self.message = sess, message


def user(request: Request, *roles: str) -> tuple[WebSession, Principal]:
    """The session and principal of a page that admits `roles` (admin always)."""
    sess = session.load(request)
    if sess.principal is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target)
    if roles and not sess.principal.has(*roles):
        raise PageForbidden(sess)
    return sess, sess.principal


async def checked_form(request: Request, sess: WebSession) -> FormData:
    """The submitted form, once its CSRF token matches the session's."""
    form = await request.form()
    sent = form.get("csrf")
    if not sess.csrf_ok(sent if isinstance(sent, str) else None):
        await form.close()
        raise PageForbidden(sess, N_("The form expired; please try again."))
    return form


async def checked_fields(request: Request, sess: WebSession) -> dict[str, str]:
    """The CSRF-checked form's text values (last one wins); any uploaded file is closed."""
    form = await checked_form(request, sess)
    try:
        return {k: v for k, v in form.multi_items() if isinstance(v, str)}
    finally:
        await form.close()


def open_tasks(db: Session, principal: Principal, limit: int) -> list[TaskOut]:
    """The caller's open tasks and role queues, overdue first (the API's list and visibility)."""
    return [task_out(t) for t in task_service.list_tasks(db, principal, limit=limit)]


def nav_for(principal: Principal | None) -> list[tuple[str, str]]:
    """The navigation items the principal may use."""
    if principal is None:
        return []
    return [(url, label) for url, label, roles in NAV if principal.has(*roles)]


def _pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def render(
    request: Request,
    sess: WebSession,
    template: str,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """A page in the session's language, with the refreshed session cookie."""
    lang = sess.lang

    def t(text: str) -> str:
        return i18n.translate(lang, text)

    def lbl(key: str) -> str:
        return i18n.label(lang, key)

    def title(task: Any) -> str:
        return i18n.title(lang, task.kind, task.title)

    response = templates.TemplateResponse(
        request,
        template,
        {
            "t": t,
            "lbl": lbl,
            "title": title,
            "lang": lang,
            "principal": sess.principal,
            "csrf": sess.csrf,
            "nav": nav_for(sess.principal),
            "flash": sess.pop_flash(),
            "path": request.url.path,
            "pretty": _pretty,
            "quote": quote,
            "svg": Markup,
            **context,
        },
        status_code=status_code,
    )
    return session.save(request, response, sess)


def redirect(request: Request, sess: WebSession, url: str) -> Response:
    """303 to `url` (post/redirect/get), carrying the session."""
    return session.save(request, RedirectResponse(url, status_code=303), sess)


def problem_text(err: ApiError) -> str:
    """One line for an API error shown on a page."""
    return f"{err.title}: {err.detail}" if err.detail else err.title


def install_handlers(app: Any) -> None:
    """Answer the guards' exceptions with a redirect or a 403 page."""

    async def _sign_in(request: Request, err: Exception) -> Response:
        assert isinstance(err, SignInRequired)
        return RedirectResponse(f"/web/signin?next={quote(err.next_url)}", status_code=303)

    async def _forbidden(request: Request, err: Exception) -> Response:
        assert isinstance(err, PageForbidden)
        return render(request, err.sess, "message.html", 403, message=err.message)

    app.add_exception_handler(SignInRequired, _sign_in)
    app.add_exception_handler(PageForbidden, _forbidden)
