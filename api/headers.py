"""Security headers on every response.

- Content-Security-Policy: scripts, styles and images from this origin only (no inline
  script: the pages' one script is a static file), no plugins, forms post here only, and
  `frame-ancestors 'none'` so no other site can frame a page (clickjacking); X-Frame-Options
  for older browsers. The interactive API docs (/docs, /redoc) load Swagger UI / ReDoc from
  their CDN, so they get a policy that allows exactly that.
- Strict-Transport-Security when the request came over TLS (directly, or through a proxy
  uvicorn trusts with --proxy-headers) or when Settings.hsts forces it.
- nosniff, no referrer, no caching of API answers that may hold personal data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
    "https://cdn.redoc.ly; worker-src blob:; object-src 'none'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"


def install(app: FastAPI, *, force_hsts: bool = False) -> None:
    """Add the headers to every response."""

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        path = request.url.path
        docs = path in ("/docs", "/redoc") or path.startswith("/docs/")
        headers = response.headers
        headers.setdefault("Content-Security-Policy", DOCS_CSP if docs else CSP)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        if path.startswith("/v1/"):
            headers.setdefault("Cache-Control", "no-store")
        if force_hsts or request.url.scheme == "https":
            headers.setdefault("Strict-Transport-Security", HSTS)
        return response
