"""Errors as `application/problem+json` (RFC 9457) carrying the request id; no stack traces."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.errors import CODE_STATUS, UNKNOWN_CODE, DomainError

log = logging.getLogger("segflow.api")
PROBLEM = "application/problem+json"


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(default="about:blank", description="Problem type URI.")
    title: str = Field(description="Short summary of the problem type.")
    status: int = Field(description="HTTP status code.")
    detail: str = Field(default="", description="What went wrong for this request.")
    request_id: str = Field(default="", description="Quote this id when reporting the problem.")
    errors: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Field-level errors: `path`, `message` and a stable `code`.",
    )


class ApiError(Exception):
    """Raised by routes to answer with a problem document."""

    def __init__(
        self, status: int, title: str, detail: str = "", errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.errors = status, title, detail, errors or []


def problem_response(request: Request, err: ApiError) -> JSONResponse:
    """Render `err` for `request`."""
    body = Problem(
        title=err.title,
        status=err.status,
        detail=err.detail,
        request_id=getattr(request.state, "request_id", ""),
        errors=err.errors,
    )
    headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
    return JSONResponse(body.model_dump(), err.status, media_type=PROBLEM, headers=headers)


def from_domain(err: DomainError) -> ApiError:
    """The problem document of a service's domain error (its issues become `errors`)."""
    return ApiError(err.status, err.title, err.detail, err.errors_json())


# domain error codes of the services -> HTTP status and title
DOMAIN_STATUS = CODE_STATUS


def domain_problem(code: str, message: str, errors: list[dict[str, Any]] | None = None) -> ApiError:
    """A service's refusal (code, message, field errors) as an ApiError."""
    status, title = DOMAIN_STATUS.get(code, UNKNOWN_CODE)
    return ApiError(status, title, message, errors)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {PROBLEM: {}}, "description": text}
    for code, text in {
        401: "Missing or invalid bearer token.",
        403: "The caller's role may not do this.",
        422: "The request body or parameters are invalid.",
        503: "The store or Temporal is unavailable; nothing was written.",
    }.items()
}


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, err: ApiError) -> JSONResponse:
        return problem_response(request, err)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, err: DomainError) -> JSONResponse:
        return problem_response(request, from_domain(err))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, err: StarletteHTTPException) -> JSONResponse:
        return problem_response(request, ApiError(err.status_code, str(err.detail)))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, err: RequestValidationError) -> JSONResponse:
        # pydantic's error type is the stable code (`missing`, `extra_forbidden`, ...)
        errors = [
            {"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "code": e["type"]}
            for e in err.errors()
        ]
        return problem_response(request, ApiError(422, "Invalid request", errors=errors))

    @app.exception_handler(DataError)
    async def _store_refused(request: Request, err: DataError) -> JSONResponse:
        # last line of defence: the request limits and models bound every value, but a value
        # the store's column cannot hold is still the client's error, not a server error
        log.warning("store refused a value: %s", err.orig)
        return problem_response(
            request,
            ApiError(422, "Invalid request", "a value does not fit the store",
                     errors=[{"path": "body", "message": "a value does not fit the store"}]),
        )  # fmt: skip

    @app.exception_handler(OperationalError)
    async def _store_down(request: Request, err: OperationalError) -> JSONResponse:
        log.warning("store unavailable: %s", err.orig)
        return problem_response(request, ApiError(503, "Store unavailable", "retry later"))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, err: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=err)
        return problem_response(request, ApiError(500, "Internal error"))
