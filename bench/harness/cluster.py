"""A two-node Ray cluster on loopback, for the scale-out measurement.

Both nodes run on this machine (`ray start --head`, then `ray start
--address`), every process under a temp folder of our own, so they are
found and stopped by that folder in their command lines. `ray stop` is
never used: it would stop every Ray on the machine, other people's too.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import time

from bench.harness.cpu import processes_mentioning
from bench.harness.servers import BIN, free_port


class LoopbackCluster:
    def __init__(self, nodes: int = 2) -> None:
        self.nodes = nodes
        # Short: Ray puts unix sockets under it (108-byte path limit).
        self.temp_dir = f"/tmp/dbr-{secrets.token_hex(3)}"
        self.address = ""
        # Ray 2.60 clusters from `ray start` want a token (~/.ray/auth_token) from
        # every process that joins: the second node and the dendray driver.
        self.env = {"RAY_AUTH_MODE": "token", "RAY_USAGE_STATS_ENABLED": "0"}

    def _ports(self, taken: set[int]) -> list[str]:
        args = []
        for flag in ("--object-manager-port", "--node-manager-port",
                     "--dashboard-agent-listen-port", "--dashboard-agent-grpc-port",
                     "--runtime-env-agent-port", "--metrics-export-port"):
            args += [flag, str(free_port(taken))]
        return args

    def start(self) -> None:
        taken: set[int] = set()
        port = free_port(taken)
        env = {**os.environ, **self.env}
        common = ["--num-cpus", "2", "--disable-usage-stats", "--node-ip-address", "127.0.0.1"]
        _ray_start(
            ["--head", "--port", str(port), "--temp-dir", self.temp_dir,
             "--include-dashboard", "false", "--ray-client-server-port", str(free_port(taken)),
             *common, *self._ports(taken)], env)
        self.address = f"127.0.0.1:{port}"
        for _ in range(self.nodes - 1):
            _ray_start(["--address", self.address, *common, *self._ports(taken)], env)

    def pids(self) -> set[int]:
        return processes_mentioning(self.temp_dir)

    def stop(self) -> None:
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            pids = self.pids()
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + wait
            while self.pids() and time.monotonic() < deadline:
                time.sleep(0.2)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def _ray_start(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run([BIN / "ray", "start", *args], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"ray start failed: {(done.stdout + done.stderr)[-1500:]}")
