"""Support for tests that start a real listening server: a free port, waiting
until the server answers its health check, and a deployment served by uvicorn in a
thread. Plain functions and context managers, no fixtures."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

__all__ = ["free_port", "serve_in_thread", "wait_until_healthy"]


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


@contextmanager
def serve_in_thread(config_path: Path, *, seconds: float = 60) -> Iterator[str]:
    """The deployment of `config_path` served by uvicorn on a free loopback port in a
    daemon thread; yields its URL once healthy and stops the server afterwards."""
    import uvicorn

    from proxy.app import create_app
    from proxy.config import load_config

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(load_config(config_path)),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_until_healthy(url, seconds=seconds):
            raise RuntimeError(f"the dpsql server did not start on {url}")
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
