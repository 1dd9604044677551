"""Every failure as JSON: {"status", "message", "field"}; never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import (
    ConfigError,
    InvalidValue,
    JobBusy,
    NessdataError,
    NotFound,
    RejectedInput,
    SchemaError,
    UpstreamError,
)
from ..serialize import jsonable

log = logging.getLogger(__name__)


class WebError(NessdataError):
    """A refusal of the web layer itself: who may do what, and how much."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None,
                 status: int | None = None, headers: dict[str, str] | None = None):
        self.field = field
        self.headers = headers
        if status is not None:
            self.status = status
        super().__init__(message)


class Unauthorized(WebError):
    status = 401


class Forbidden(WebError):
    status = 403


class CoolingDown(WebError):
    status = 429


STATUS_OF = [
    (WebError, None),
    (InvalidValue, 400),
    (RejectedInput, 422),
    (NotFound, 404),
    (JobBusy, 409),
    (UpstreamError, 502),
    (ConfigError, 503),
    (SchemaError, 503),
]


def error_body(status: int, message: str, field: str | None = None,
               **extra: Any) -> dict[str, Any]:
    return {"status": status, "message": message, "field": field,
            **jsonable(extra)}


def error_response(status: int, message: str, field: str | None = None,
                   headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse(error_body(status, message, field, **extra), status_code=status,
                        headers=headers)


def nessdata_error_response(exc: NessdataError) -> JSONResponse:
    status = 500
    for kind, code in STATUS_OF:
        if isinstance(exc, kind):
            status = code or exc.status
            break
    if isinstance(exc, RejectedInput):
        first = exc.rejects[0]
        return error_response(
            status, f"{exc.source}: {len(exc.rejects)} invalid event(s), nothing was "
            f"stored; first: {first}", first.field,
            rejects=[r.as_dict() for r in exc.rejects[:100]])
    if isinstance(exc, JobBusy) and getattr(exc, "seconds_left", None):
        # A source's own cooldown: not running now, but not yet allowed again.
        return error_response(429, str(exc), "job",
                              headers={"Retry-After": str(exc.seconds_left)})
    if status == 500:
        log.error("request failed: %s", exc)
    return error_response(status, str(exc), getattr(exc, "field", None),
                          headers=getattr(exc, "headers", None))


def install(app: FastAPI) -> None:
    app.add_exception_handler(NessdataError, _on_nessdata_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(Exception, _on_unexpected)


async def _on_nessdata_error(request: Request, exc: NessdataError) -> JSONResponse:
    return nessdata_error_response(exc)


async def _on_validation_error(request: Request,
                               exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {}
    field = str(first.get("loc", ["", "request"])[-1])
    return error_response(400, f"{field}: {first.get('msg', 'invalid value')}", field)


async def _on_http_exception(request: Request,
                             exc: StarletteHTTPException) -> JSONResponse:
    message = exc.detail if isinstance(exc.detail, str) else "request refused"
    if exc.status_code == 404:
        message = f"no such page or endpoint: {request.url.path}"
    return error_response(exc.status_code, message,
                          headers=getattr(exc, "headers", None))


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The trace goes to the server's log only; the client learns nothing inside.
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "internal error; the server log has the details")
