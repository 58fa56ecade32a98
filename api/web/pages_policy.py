"""The policy owner's pages: versions, upload (errors with file:line), impact, activate,
roll back. Each action calls the service the API calls (validation, storage and audit there)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from activities import policy_store
from api.deps import state
from api.errors import from_domain
from api.web import charts
from api.web.common import checked_fields, checked_form, problem_text, redirect, render, user
from api.web.i18n import N_, translate
from rules.errors import PolicyIssue
from rules.yamlpos import MAX_FILE_BYTES, decode
from services import policies as policy_service
from services.errors import DomainError
from store.models import PolicyVersion

router = APIRouter()
OWNER = ("policy_owner",)


def _issue(i: PolicyIssue) -> dict[str, Any]:
    """A loader issue in the API's error shape (the page lists them beside the files)."""
    return {"path": f"{i.file}:{i.line}:{i.col}", "message": i.message, "file": i.file,
            "line": i.line, "col": i.col}  # fmt: skip


def _active_files(db: Any) -> dict[str, str]:
    """The active bundle's files, the starting point of an edit."""
    row = policy_store.active_row(db)
    return {str(k): str(v) for k, v in sorted(row.files.items())} if row else {}


def _page(request: Request, status_code: int = 200, **context: Any) -> Response:
    sess, _ = user(request, *OWNER)  # (the role check)
    with state(request).sessions() as db:
        versions = policy_service.list_versions(db)
        files = context.pop("files", None) or _active_files(db)
    return render(
        request,
        sess,
        "policies.html",
        status_code,
        versions=versions,
        files=files,
        issues=context.pop("issues", []),
        **context,
    )


@router.get("/policies")
def policies(request: Request) -> Response:
    """Versions and the upload form (textareas pre-filled with the active bundle)."""
    return _page(request)


@router.post("/policies")
async def upload(request: Request) -> Response:
    """Textareas (`file:<name>`) and uploaded files (uploads win) make the bundle."""
    sess, p = user(request, *OWNER)
    form = await checked_form(request, sess)
    files: dict[str, str] = {}
    refused: list[dict[str, Any]] = []
    try:
        for key, value in form.multi_items():
            if key.startswith("file:") and isinstance(value, str) and value.strip():
                files[key.removeprefix("file:")] = value.replace("\r\n", "\n")
        for value in form.getlist("upload"):
            if isinstance(value, UploadFile) and value.filename:
                name = value.filename.rsplit("/", 1)[-1]
                # a file over the cap or not UTF-8 is reported with file:line, not dropped
                text, issues = decode(name, await value.read(MAX_FILE_BYTES + 1))
                if text is not None:
                    files[name] = text
                refused += [_issue(i) for i in issues]
    finally:
        await form.close()  # uploads are spooled temporary files
    if refused:
        problem = f"{len(refused)} problem(s)"
        return _page(request, 422, files=files, issues=refused, problem=problem)

    def store() -> policy_service.PolicyView:
        with state(request).sessions() as db:
            return policy_service.upload(db, files, p.name)

    try:
        out = await run_in_threadpool(store)  # validation is CPU work; keep the loop free
    except DomainError as derr:
        err = from_domain(derr)
        return _page(request, err.status, files=files, issues=err.errors, problem=problem_text(err))
    return redirect(request, sess, f"/web/policies/{out.version}")


def _matrix(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Transition list -> table: sorted from / to labels and counts."""
    froms = sorted({r["from"] for r in rows})
    tos = sorted({r["to"] for r in rows})
    cells = {(r["from"], r["to"]): r["count"] for r in rows}
    return {"froms": froms, "tos": tos, "cells": cells}


@router.get("/policies/{version}")
def version_page(request: Request, version: str) -> Response:
    """A version: its files, the impact preview (tables + charts), activate / roll back."""
    sess, _ = user(request, *OWNER)  # (the role check)
    with state(request).sessions() as db:
        row = db.get(PolicyVersion, version)
        if row is None:
            return render(request, sess, "message.html", 404, message="Not found")
        impact = policy_service.impact(db, version)
    matrices = {k: _matrix(v) for k, v in impact["transitions"].items()}
    moved = {
        k: sum(r["count"] for r in v if r["from"] != r["to"])
        for k, v in impact["transitions"].items()
    }
    to_counts: dict[str, list[tuple[str, float]]] = {}
    for key, rows in impact["transitions"].items():
        totals: dict[str, float] = {}
        for r in rows:
            totals[r["to"]] = totals.get(r["to"], 0) + r["count"]
        to_counts[key] = sorted(totals.items())
    chart = {k: charts.bars(k, v) for k, v in to_counts.items()}
    procs = [(f"+ {k}", float(v)) for k, v in impact["processes_start"].items()]
    procs += [(f"− {k}", float(v)) for k, v in impact["processes_stop"].items()]
    return render(
        request,
        sess,
        "policy_version.html",
        row=row,
        impact=impact,
        matrices=matrices,
        moved=moved,
        chart=chart,
        process_chart=charts.bars("processes", procs),
    )


@router.post("/policies/{version}/activate")
async def activate(request: Request, version: str) -> Response:
    """Make the version active (the API's activate)."""
    sess, p = user(request, *OWNER)
    await checked_fields(request, sess)
    try:

        def work() -> None:
            with state(request).sessions() as db:
                policy_service.activate(db, version, p.name)

        await run_in_threadpool(work)  # store work off the event loop
        done = N_("Activated {version}")
        sess.flash(translate(sess.lang, done).format(version=version))
    except DomainError as err:
        sess.flash(problem_text(from_domain(err)))
    return redirect(request, sess, f"/web/policies/{version}")


@router.post("/policies/rollback")
async def rollback(request: Request) -> Response:
    """Re-activate the previous version (the API's rollback)."""
    sess, p = user(request, *OWNER)
    await checked_fields(request, sess)
    try:

        def work() -> Any:
            with state(request).sessions() as db:
                return policy_service.rollback(db, p.name)

        out = await run_in_threadpool(work)  # store work off the event loop
        done = N_("Rolled back to {version}")
        sess.flash(translate(sess.lang, done).format(version=out.version))
    except DomainError as err:
        sess.flash(problem_text(from_domain(err)))
    return redirect(request, sess, "/web/policies")
