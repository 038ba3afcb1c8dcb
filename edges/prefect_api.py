"""A temporary Prefect API server for one ``keqing`` process, started before the run imports Prefect.

With no API configured, Prefect starts a temporary server itself at the first flow call: the parent
first imports Prefect's whole server (the FastAPI app and its models, seconds of CPU) only to launch
it in a subprocess, and then waits, idle, for it to answer. ``TemporaryApi`` launches the same
server (Prefect's app under uvicorn, UI off, the command Prefect uses) as soon as the command starts,
without that import, so that the server boots while the run imports keqing and Prefect. Prefect is
still the orchestrator: flows and tasks run and are recorded exactly as before.

The server is Prefect's app wrapped by ``RetrySoonWhenBusy`` (see ``create_server_app``): its SQLite
database answers "database is locked" (503) when a request's transaction meets a write by the
server's own services, and Prefect's client, told nothing, waits 2 s before trying again.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

# What Prefect sets for its own temporary server: no UI, the ephemeral set of services.
SERVER_ENV = {
    "PREFECT_UI_ENABLED": "0",
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # no telemetry calls from a nightly batch machine
    # No automations on a server that lives for one run (alerts are the production server's,
    # docs/alerts.md): its triggers and actions would only read every event. Tasks and flows are
    # still recorded.
    "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",
}

# Exit status of uvicorn when its port was taken between our check and its bind.
PORT_TAKEN = 3


def configured_api_url() -> str | None:
    """The API URL Prefect will use (environment or profile), or None."""
    from prefect.settings import get_current_settings

    return get_current_settings().api.url


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TemporaryApi:
    """Prefect's API in a subprocess on a free local port, stopped when this process exits."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.env = {**os.environ, **SERVER_ENV, **(env or {})}  # env: settings of the server only
        self.port = free_port()
        self.process = self._launch()
        # Registered before Prefect registers its own exit handlers, so it runs after them: the
        # events and logs Prefect flushes at exit still reach the server.
        atexit.register(self.stop)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def _launch(self) -> subprocess.Popen:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--app-dir",
                _prefect_dir(),
                "--factory",
                "edges.prefect_api:create_server_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "error",
                "--lifespan",
                "on",
            ],
            env=self.env,
        )

    def wait(self, timeout_seconds: float) -> None:
        """Until the server answers its health check (RuntimeError after ``timeout_seconds``)."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self.process.poll() == PORT_TAKEN:
                self.port = free_port()
                self.process = self._launch()
            elif self.process.poll() is not None:
                raise RuntimeError(f"the temporary Prefect server exited with status {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the temporary Prefect server did not answer within {timeout_seconds:.0f} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class RetrySoonWhenBusy:
    """ASGI wrapper adding ``Retry-After`` to the app's 503 answers, which Prefect's client honours.

    Prefect's server answers 503 when SQLite reports the database busy: a deferred transaction that
    read before another connection wrote cannot write, and fails at once rather than waiting
    (Prefect's own comment in prefect/server/database/configurations.py). Such a conflict is over
    as soon as the other write commits, but the client, given no Retry-After, waits 2**attempt
    seconds: 2 s on each of the first requests of a run, while the server's services record the
    first task runs. Here a busy answer asks for a retry after ``first_seconds``; one that comes
    while the last asked wait is not over by ``grace_seconds`` yet (a request still failing on its
    retry) asks for twice the last (up to ``most_seconds``), so a server that stays busy still gets
    about the client's own time to recover.
    """

    def __init__(
        self,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
        first_seconds: float = 0.2,
        most_seconds: float = 32.0,
        grace_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.first_seconds, self.most_seconds, self.grace_seconds = first_seconds, most_seconds, grace_seconds
        self.clock = clock
        self.asked = 0.0  # the wait asked by the last busy answer
        self.asked_until = float("-inf")  # when that wait, plus the grace, is over

    def retry_after(self) -> float:
        """Seconds to ask for now (a 503 is being answered)."""
        now = self.clock()
        busy_again = now <= self.asked_until
        self.asked = min(2 * self.asked, self.most_seconds) if busy_again else self.first_seconds
        self.asked_until = now + self.asked + self.grace_seconds
        return self.asked

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_retry_after(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 503:
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"retry-after" for name, _ in headers):
                    headers.append((b"retry-after", f"{self.retry_after():.2f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_retry_after)


def create_server_app() -> RetrySoonWhenBusy:
    """The temporary server's app (uvicorn's factory): Prefect's, answering 503s with Retry-After."""
    from prefect.server.api.server import create_app

    return RetrySoonWhenBusy(create_app())


def _prefect_dir() -> str:
    """The folder holding the ``prefect`` package, found without importing it (which takes a second)."""
    import importlib.util

    spec = importlib.util.find_spec("prefect")
    assert spec is not None and spec.origin is not None
    return os.path.dirname(os.path.dirname(spec.origin))


def start_if_needed() -> TemporaryApi | None:
    """Start the temporary server now unless ``PREFECT_API_URL`` is set in the environment."""
    return None if os.environ.get("PREFECT_API_URL") else TemporaryApi()


@contextlib.contextmanager
def serving(api: TemporaryApi | None, timeout_seconds: float) -> Iterator[None]:
    """Flows called inside report to ``api`` (once it answers), unless a Prefect profile names a server."""
    if api is None:
        yield
        return
    if configured_api_url():
        api.stop()
        yield
        return
    from prefect.settings import PREFECT_API_URL, temporary_settings

    api.wait(timeout_seconds)
    with temporary_settings(updates={PREFECT_API_URL: api.api_url}):
        yield
