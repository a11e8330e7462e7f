"""A stand-in for `federation.client.FederationClient` in service tests.

Answers are registered per (method, destination, path): a value, an
exception to raise, or a function of the request. Any other request finds
its server unreachable. Every request is recorded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from federation.client import FederationUnreachable


@dataclass
class Request:
    method: str
    destination: str
    path: str
    query: dict[str, Any] | None
    body: Any


@dataclass
class FakeFederation:
    answers: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    # Seconds every answer takes.
    delay: float = 0.0

    def answer(self, method: str, destination: str, path: str, value: Any) -> None:
        self.answers[(method, destination, path)] = value

    async def _request(self, request: Request) -> Any:
        self.requests.append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        key = (request.method, request.destination, request.path)
        if key not in self.answers:
            raise FederationUnreachable(f"{request.destination} is not in this test")
        value = self.answers[key]
        if isinstance(value, BaseException):
            raise value
        if isinstance(value, Callable):
            return value(request)
        return value

    async def get_json(self, destination: str, path: str, query: Any = None) -> Any:
        return await self._request(Request("GET", destination, path, query, None))

    async def post_json(self, destination: str, path: str, body: Any, query: Any = None) -> Any:
        return await self._request(Request("POST", destination, path, query, body))

    async def put_json(self, destination: str, path: str, body: Any, query: Any = None) -> Any:
        return await self._request(Request("PUT", destination, path, query, body))
