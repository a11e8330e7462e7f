"""Matrix standard errors: an `errcode`, a human message and the HTTP status.

Raised anywhere (ingress or actor); the ingress turns them into the JSON body
`{"errcode": …, "error": …, …extra}`. They survive pickling, so an actor can
raise one and the ingress catches the same type.
"""

from __future__ import annotations

from typing import Any


class MatrixError(Exception):
    def __init__(self, status: int, errcode: str, error: str, **extra: Any) -> None:
        super().__init__(status, errcode, error, extra)
        self.status = status
        self.errcode = errcode
        self.error = error
        self.extra = extra

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.status, self.errcode, self.error, self.extra))

    def __str__(self) -> str:
        return f"{self.status} {self.errcode}: {self.error}"

    def body(self) -> dict[str, Any]:
        return {"errcode": self.errcode, "error": self.error, **self.extra}


def _rebuild(status: int, errcode: str, error: str, extra: dict[str, Any]) -> MatrixError:
    return MatrixError(status, errcode, error, **extra)


def forbidden(error: str = "Forbidden") -> MatrixError:
    return MatrixError(403, "M_FORBIDDEN", error)


def not_found(error: str = "Not found") -> MatrixError:
    return MatrixError(404, "M_NOT_FOUND", error)


def bad_json(error: str) -> MatrixError:
    return MatrixError(400, "M_BAD_JSON", error)


def not_json(error: str = "Content not JSON") -> MatrixError:
    return MatrixError(400, "M_NOT_JSON", error)


def missing_param(error: str) -> MatrixError:
    return MatrixError(400, "M_MISSING_PARAM", error)


def invalid_param(error: str) -> MatrixError:
    return MatrixError(400, "M_INVALID_PARAM", error)


def unknown_token(error: str = "Unrecognised access token", soft_logout: bool = False) -> MatrixError:
    return MatrixError(401, "M_UNKNOWN_TOKEN", error, soft_logout=soft_logout)


def missing_token() -> MatrixError:
    return MatrixError(401, "M_MISSING_TOKEN", "Missing access token")


def limit_exceeded(retry_after_ms: int) -> MatrixError:
    return MatrixError(429, "M_LIMIT_EXCEEDED", "Too many requests", retry_after_ms=retry_after_ms)


def too_large(error: str = "Request too large") -> MatrixError:
    return MatrixError(413, "M_TOO_LARGE", error)


def unrecognized(status: int = 404) -> MatrixError:
    return MatrixError(status, "M_UNRECOGNIZED", "Unrecognized request")
