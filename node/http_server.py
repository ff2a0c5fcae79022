"""Serving an ASGI app from a background thread (a node's API, the explorer): the caller's loop stays
synchronous, async stays inside the HTTP layer."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import uvicorn


@dataclass(frozen=True, slots=True)
class BackgroundServer:
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stops serving and waits for the port to be free (a process starting again binds the same port)."""
        self.server.should_exit = True
        self.thread.join(timeout_s)

    def wait_started(self, timeout_s: float = 10.0) -> bool:
        """Whether the server listens within ``timeout_s`` (False: it failed to bind, or is still starting)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.thread.is_alive():
            if self.server.started:
                return True
            time.sleep(0.02)  # polling a flag uvicorn sets; no event to wait on
        return bool(self.server.started)


def serve_in_thread(app: Any, host: str, port: int, *, name: str) -> BackgroundServer:
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    return BackgroundServer(server, thread)
