"""Every failure leaves as a Matrix error body, never as a bare 500 page."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from protocol.errors import MatrixError

log = logging.getLogger("dendray.ingress")


def error_response(err: MatrixError) -> JSONResponse:
    headers = None
    if err.errcode == "M_LIMIT_EXCEEDED" and "retry_after_ms" in err.extra:
        headers = {"Retry-After": str(max(1, -(-int(err.extra["retry_after_ms"]) // 1000)))}
    return JSONResponse(err.body(), status_code=err.status, headers=headers)


async def _matrix_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MatrixError)
    return error_response(exc)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code in (404, 405):
        return error_response(MatrixError(exc.status_code, "M_UNRECOGNIZED", "Unrecognized request"))
    return error_response(MatrixError(exc.status_code, "M_UNKNOWN", str(exc.detail)))


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body"))
    if first.get("type") == "missing":
        return error_response(MatrixError(400, "M_MISSING_PARAM", f"Missing parameter: {where}"))
    return error_response(MatrixError(400, "M_INVALID_PARAM", f"Invalid parameter: {where}"))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(MatrixError(500, "M_UNKNOWN", "Internal server error"))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(MatrixError, _matrix_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
