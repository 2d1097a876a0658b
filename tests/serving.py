"""Support for tests that start a real listening server: a free port, and waiting
until the server answers its health check. Plain functions, no fixtures."""

from __future__ import annotations

import socket
import ssl
import time

import httpx

__all__ = ["free_port", "wait_until_healthy"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_healthy(url: str, seconds: float = 20,
                       verify: ssl.SSLContext | bool = True) -> bool:
    """Poll `url`/health until it answers 200; False if it never did in time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", verify=verify, timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            time.sleep(0.1)
    return False
