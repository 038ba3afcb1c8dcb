"""A local SMTP server with scripted answers, for tests, the benchmark and trying things out.

Built on aiosmtpd (a development dependency). It listens on 127.0.0.1, keeps every message it
accepted (or stalled on), counts connections, and answers a recipient's RCPT or DATA from a script, e.g.::

    with LocalSmtpServer() as server:
        server.handler.on_data["a@example.com"] = ["451 4.3.0 try again later", "451 4.3.0 later"]
        server.handler.on_rcpt["b@example.com"] = ["550 5.1.1 no such user"]
        server.handler.on_data["c@example.com"] = ["stall 3"]  # keep it, answer only after 3 s
        server.handler.on_data["d@example.com"] = ["close"]  # hang up instead of answering the data

Each scripted answer is used once, in order; then the server accepts as usual.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    connection: int


@dataclass
class ScriptedHandler:
    on_rcpt: dict[str, list[str]] = field(default_factory=dict)
    on_data: dict[str, list[str]] = field(default_factory=dict)
    messages: list[Received] = field(default_factory=list)
    connections: int = 0
    data_commands: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _next(self, script: dict[str, list[str]], address: str) -> str | None:
        with self.lock:
            answers = script.get(address)
            return answers.pop(0) if answers else None

    def _connection(self, session: Any) -> int:
        number = getattr(session, "keqing_connection", None)
        if number is None:
            with self.lock:
                self.connections += 1
                number = session.keqing_connection = self.connections
        return number

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: list) -> str:
        self._connection(session)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list) -> str:
        answer = self._next(self.on_rcpt, address)
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.data_commands += 1
        answer = None
        for address in envelope.rcpt_tos:
            answer = answer or self._next(self.on_data, address)
        if answer == "close":
            # Hang up at the end of the data without an answer (and without the message): the client
            # cannot tell this from a connection lost in the middle of the data.
            server.transport.close()
            return "421 4.4.2 closing"  # never reaches the client
        if answer and not answer.startswith("stall"):
            return answer
        with self.lock:
            self.messages.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, self._connection(session))
            )
        if answer:
            # The server has the message but answers too late for the client. Kept before the wait:
            # aiosmtpd cancels this handler when the client hangs up.
            await asyncio.sleep(float(answer.split()[1]))
        return "250 2.0.0 OK: queued"

    def delivered_to(self, address: str) -> int:
        return sum(address in m.rcpt_tos for m in self.messages)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalSmtpServer:
    """``with LocalSmtpServer() as server:`` -> ``server.host``, ``server.port``, ``server.handler``.

    ``tls=(certfile, keyfile)`` with ``security="starttls"`` offers (and requires) STARTTLS; with
    ``security="ssl"`` the server speaks TLS from the first byte. ``auth=(user, password)`` requires
    a login (over TLS when there is TLS).
    """

    def __init__(
        self,
        *,
        auth: tuple[str, str] | None = None,
        tls: tuple[str, str] | None = None,
        security: str = "starttls",
    ) -> None:
        import ssl

        from aiosmtpd.controller import Controller

        self.host = "127.0.0.1"
        self.port = free_port()
        self.handler = ScriptedHandler()
        kwargs: dict[str, Any] = {}
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*tls)
            if security == "ssl":
                kwargs["ssl_context"] = context
            else:
                kwargs |= {"tls_context": context, "require_starttls": True}
        if auth is not None:
            user, password = auth

            def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
                from aiosmtpd.smtp import AuthResult, LoginPassword

                ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
                    user.encode(),
                    password.encode(),
                )
                return AuthResult(success=ok, handled=False)

            # aiosmtpd only knows of TLS it started itself (STARTTLS); with implicit TLS it is TLS anyway.
            require_tls = tls is not None and security != "ssl"
            kwargs |= {"authenticator": authenticator, "auth_require_tls": require_tls, "auth_required": True}
        self.controller = Controller(self.handler, hostname=self.host, port=self.port, **kwargs)

    def __enter__(self) -> LocalSmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
