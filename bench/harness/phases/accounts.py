"""Register + login."""

from __future__ import annotations

from bench.harness.measure import measured
from bench.harness.phases.state import Workload


async def register(w: Workload) -> None:
    password = "bench-password"
    names = [f"b{w.run_id}u{i}" for i in range(w.scale.users)]
    result, accounts = await measured(
        w.server, "register", [lambda n=n: w.client.register(n, password) for n in names],
        w.scale.register_concurrency)
    w.results.append(result)
    w.users = [a for a in accounts if a is not None]
    if len(w.users) < w.scale.users:
        raise RuntimeError(f"registration failed: {result.first_error}")


async def login(w: Workload) -> None:
    result, _ = await measured(
        w.server, "login",
        [lambda a=a: w.client.login(a.localpart, a.password) for a in w.users[:w.scale.logins]],
        w.scale.register_concurrency)
    w.results.append(result)
