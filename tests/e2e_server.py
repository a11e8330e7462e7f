"""The name of the session's end-to-end server, known before it starts.

The server federates, so its name is an IP literal with the federation port
(`127.0.0.1:<port>`: other servers reach it without DNS). The port is picked
when the test session imports this module, so tests can build user IDs and
aliases at module level too.
"""

from __future__ import annotations

import socket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


FEDERATION_PORT = free_port()
SERVER_NAME = f"127.0.0.1:{FEDERATION_PORT}"
