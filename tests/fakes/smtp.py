"""A fake SMTP relay (aiosmtpd) on 127.0.0.1 in the test's event loop, recording every envelope.

Optional AUTH (PLAIN/LOGIN over plain TCP: ``auth_require_tls=False``), and scripted refusals per
stage: ``fail("rcpt", "550 5.1.1 No such user")`` (permanent), ``fail("data", "451 4.3.0 Try later")``
(temporary), or ``hang_after_data()`` (the message is received, the answer never comes).
"""

from __future__ import annotations

import asyncio
import collections
import email
import email.message
import logging
import warnings
from dataclasses import dataclass
from typing import Any, Literal

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's own deprecation chatter

Stage = Literal["mail", "rcpt", "data"]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: email.message.Message
    login: str | None


class FakeSmtp:
    def __init__(self, *, username: str | None = None, password: str | None = None) -> None:
        self.username = username
        self.password = password
        self.messages: list[Received] = []
        self.connections = 0
        self._failures: dict[str, collections.deque[str]] = collections.defaultdict(collections.deque)
        self._hang_next = 0
        self._release = asyncio.Event()
        self._server: asyncio.base_events.Server | None = None
        self.port = 0
        self.host = "127.0.0.1"

    async def start(self) -> FakeSmtp:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.close()
            self._server = None

    def config(self, **changes: Any) -> dict[str, Any]:
        """A sender ``config`` for the smtp provider pointing at this fake (plain TCP, no TLS)."""
        config: dict[str, Any] = {"host": self.host, "port": self.port, "security": "none"}
        if self.username:
            config.update(username=self.username, password=self.password)
        return {**config, **changes}

    def fail(self, stage: Stage, reply: str, times: int = 1) -> None:
        """Answer the next ``times`` commands of ``stage`` with ``reply`` (e.g. "550 5.1.1 No such user")."""
        self._failures[stage].extend([reply] * times)

    def hang_after_data(self, times: int = 1) -> None:
        """Receive the next message's data, record it, and never answer."""
        self._hang_next += times

    # --- aiosmtpd plumbing ----------------------------------------------------------------------------

    def _protocol(self) -> SMTP:
        self.connections += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "AUTH without TLS": intended, it is a local fake
            return SMTP(
                self,
                hostname="fake-smtp.local",
                auth_require_tls=False,
                auth_required=self.username is not None,
                authenticator=self._authenticate if self.username is not None else None,
            )

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == self.username
            and data.password.decode() == self.password
        )
        return AuthResult(success=ok, handled=False, auth_data=data)

    def _failure(self, stage: Stage) -> str | None:
        queue = self._failures[stage]
        return queue.popleft() if queue else None

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if failure := self._failure("mail"):
            return failure
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if failure := self._failure("rcpt"):
            return failure
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if failure := self._failure("data"):
            return failure
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode()
        auth = session.auth_data
        self.messages.append(
            Received(
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                raw=raw,
                message=email.message_from_bytes(raw),
                login=auth.login.decode() if isinstance(auth, LoginPassword) else None,
            )
        )
        if self._hang_next:
            self._hang_next -= 1
            await self._release.wait()
        return "250 OK: queued"
