"""Email over SMTP (aiosmtplib): one reused connection per sender, guarded by a lock, re-opened on
failure.

The SMTP transaction is run step by step (MAIL, RCPT, DATA) instead of ``send_message`` so a failure
is classified by where it happened: anything before DATA means the relay certainly does not have the
message (``retry`` for 4xx and network trouble, ``rejected`` for 5xx); a timeout or disconnect once
DATA began may mean it does (``unknown``). The Message-ID is derived from the message id, so it is
known (and returned as ``provider_message_id``) even when the relay's answer is lost.

Marketing mail carries RFC 8058 one-click unsubscribe headers (``List-Unsubscribe`` +
``List-Unsubscribe-Post``) when an unsubscribe URL is given.
"""

from __future__ import annotations

import asyncio
import email.utils
import html
from email.message import EmailMessage
from typing import ClassVar, Final

import aiosmtplib
import msgspec

from backend.providers.base import Outgoing, SendResult, WithoutWebhooks, media_kind
from backend.providers.http import ProviderHttp
from backend.senders.provider_config import SmtpConfig

TIMEOUT_SECONDS: Final = 15.0


class SmtpProvider(WithoutWebhooks):
    name: ClassVar[str] = "smtp"

    def __init__(
        self,
        *,
        sender_id: int,
        address: str,
        config: SmtpConfig,
        http: ProviderHttp | None = None,
        webhook_url: str = "",
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.sender_id = sender_id
        self.address = address
        self.config = config
        self.timeout = timeout
        self._smtp: aiosmtplib.SMTP | None = None
        self._lock = asyncio.Lock()

    # --- building -------------------------------------------------------------------------------------

    def message_id_header(self, message: Outgoing) -> str:
        domain = (message.sender_address or self.address).rpartition("@")[2] or "flowgate.local"
        return f"<flowgate.{self.sender_id}.{message.message_id}@{domain}>"

    def build(self, message: Outgoing) -> EmailMessage:
        if not message.text and not message.html and not message.media_url:
            raise ValueError("an email needs text or html")
        if message.media_url:
            message = with_media(message)
        mail = EmailMessage()
        sender_address = message.sender_address or self.address
        mail["From"] = email.utils.formataddr((self.config.from_name or "", sender_address))
        mail["To"] = message.to
        mail["Subject"] = message.subject or ""
        mail["Date"] = email.utils.formatdate(usegmt=True)
        mail["Message-ID"] = self.message_id_header(message)
        if message.reply_to_provider_id:
            mail["In-Reply-To"] = message.reply_to_provider_id
        if message.kind == "marketing" and message.unsubscribe_url:
            mail["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
            mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        if message.text:
            mail.set_content(message.text)
            if message.html:
                mail.add_alternative(message.html, subtype="html")
        else:
            mail.set_content(message.html or "", subtype="html")
        return mail

    # --- sending --------------------------------------------------------------------------------------

    async def send(self, message: Outgoing) -> SendResult:
        try:
            mail = self.build(message)
        except ValueError as exc:
            return SendResult(outcome="rejected", error_code="invalid_message", error_message=str(exc))
        message_id = mail["Message-ID"]
        async with self._lock:
            result = await self._transaction(mail, message.sender_address or self.address, message.to)
        if result.outcome in ("accepted", "unknown"):
            # The Message-ID is ours, so even an unanswered DATA has a known id to reconcile with.
            return SendResult(
                outcome=result.outcome,
                provider_message_id=message_id,
                error_code=result.error_code,
                error_message=result.error_message,
            )
        return result

    async def _connection(self) -> aiosmtplib.SMTP:
        if self._smtp is not None and self._smtp.is_connected:
            return self._smtp
        security = self.config.security
        smtp = aiosmtplib.SMTP(
            hostname=self.config.host,
            port=self.config.port,
            username=self.config.username,
            password=self.config.password if self.config.username else None,
            use_tls=security == "tls",
            start_tls=security == "starttls",
            timeout=self.timeout,
        )
        await smtp.connect()
        self._smtp = smtp
        return smtp

    async def _transaction(self, mail: EmailMessage, mail_from: str, rcpt: str) -> SendResult:
        data_started = False
        for attempt in (1, 2):
            reused = self._smtp is not None and self._smtp.is_connected
            try:
                smtp = await self._connection()
                await smtp.mail(mail_from)
                await smtp.rcpt(rcpt)
                data_started = True
                await smtp.data(mail.as_bytes())
                return SendResult(outcome="accepted")
            except aiosmtplib.SMTPResponseException as exc:
                await self._reset()
                code = exc.code
                outcome = "retry" if 400 <= code < 500 else "rejected"
                return SendResult(outcome=outcome, error_code=str(code), error_message=exc.message)
            except aiosmtplib.SMTPRecipientsRefused as exc:
                await self._reset()
                codes = [refused.code for refused in exc.recipients]
                temporary = bool(codes) and all(400 <= code < 500 for code in codes)
                first = exc.recipients[0] if exc.recipients else None
                return SendResult(
                    outcome="retry" if temporary else "rejected",
                    error_code=str(first.code) if first else None,
                    error_message=first.message if first else str(exc),
                )
            except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
                await self._drop()
                if data_started:
                    return SendResult(outcome="unknown", error_message=f"{type(exc).__name__}: {exc}")
                if reused and attempt == 1:
                    continue  # the relay closed an idle connection: open a new one once
                return SendResult(outcome="retry", error_message=f"{type(exc).__name__}: {exc}")
        return SendResult(outcome="retry", error_message="SMTP connection failed twice")

    async def _reset(self) -> None:
        """After a refused transaction, RSET so the connection can be reused (or drop it)."""
        if self._smtp is None or not self._smtp.is_connected:
            self._smtp = None
            return
        try:
            await self._smtp.rset()
        except (TimeoutError, aiosmtplib.SMTPException, OSError):
            await self._drop()

    async def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    async def aclose(self) -> None:
        async with self._lock:
            smtp, self._smtp = self._smtp, None
            if smtp is not None and smtp.is_connected:
                try:
                    await smtp.quit(timeout=2)
                except (TimeoutError, aiosmtplib.SMTPException, OSError):
                    smtp.close()


def with_media(message: Outgoing) -> Outgoing:
    """The step's media in the email itself: a picture shown above the HTML (an HTML part is made from the
    text when there is none), any other file linked; the plain-text part carries the link."""
    url = message.media_url or ""
    link = html.escape(url, quote=True)
    if media_kind(url) == "image":
        shown = f'<p><img src="{link}" alt="" style="max-width:100%;height:auto"></p>'
    else:
        shown = f'<p><a href="{link}">{link}</a></p>'
    body = message.html or "".join(
        f"<p>{html.escape(line)}</p>" for line in (message.text or "").splitlines()
    )
    text = f"{message.text}\n\n{url}" if message.text else url
    return msgspec.structs.replace(message, html=shown + body, text=text)
