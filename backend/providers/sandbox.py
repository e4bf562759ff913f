"""The sandbox provider: accepts everything and calls nobody, for demos, previews and tests.

Its "sent" messages are simply the stored messages; a contact's reply is simulated through the
authenticated ``POST /api/v1/senders/{id}/sandbox/inbound`` endpoint, so the public
``/webhooks/{sender_id}`` path has nothing to accept for a sandbox sender: :meth:`verify` is always
False there (fail closed: nobody can forge a sandbox inbound without an API key).

With ``auto_reply`` in the sender's config the sandbox also plays the customers' phones, so a demo
campaign's funnel fills without anyone typing: for each accepted message it decides, at the configured
rates, whether the phone will report it delivered and read and whether the customer will answer (a tap
on one of its buttons, a short text, now and then STOP). The decisions are the events a real provider's
webhook would carry (:class:`StatusUpdate`, :class:`InboundMessage`), each with a delay; the provider
hands them to an :class:`AnswerScheduler` (the worker's: deferred jobs that store them as inbound events
when due) and returns at once, so a send never waits for its simulated answer. This module stays a
provider: no database, no queue of its own.
"""

from __future__ import annotations

import logging
import random
from typing import ClassVar, Protocol

import msgspec

from backend.providers.base import InboundMessage, Outgoing, SendResult, StatusUpdate, WithoutWebhooks
from backend.providers.http import ProviderHttp
from backend.senders.provider_config import AutoReply, ProviderConfig, SandboxConfig

log = logging.getLogger(__name__)

STOP_TEXT = "STOP"
"""What a simulated customer who wants no more marketing writes (the senders' default opt-out keyword)."""


class PlannedEvent(msgspec.Struct, frozen=True):
    """One thing the simulated phone will report, ``after_s`` seconds after the send."""

    after_s: float
    event: StatusUpdate | InboundMessage


class AnswerScheduler(Protocol):
    """Delivers planned events to the inbound pipeline when they are due (``backend.inbound.sandbox``)."""

    async def schedule(self, sender_id: int, planned: list[PlannedEvent]) -> None: ...


def provider_message_id(message_id: int) -> str:
    """The id the sandbox gives a message: the inbound pipeline reads ``sandbox-<id>`` back as ours."""
    return f"sandbox-{message_id}"


def plan_answers(message: Outgoing, rules: AutoReply, rng: random.Random) -> list[PlannedEvent]:
    """What the customer's phone does with ``message``: delivered, then read, then an answer, each step
    at its rate of the step before and a random delay after it; the list stops where the funnel did."""
    ours = provider_message_id(message.message_id)
    planned: list[PlannedEvent] = []
    after_s = 0.0

    def later() -> float:
        nonlocal after_s
        after_s += rng.uniform(*rules.delay_seconds)
        return round(after_s, 3)

    for status, rate in (("delivered", rules.delivered), ("read", rules.read)):
        if rng.random() >= rate:
            return planned
        update = StatusUpdate(
            provider_event_id=f"{ours}:{status}",
            provider_message_id=ours,
            callback_ref=message.callback_ref,
            status=status,
            recipient=message.to,
        )
        planned.append(PlannedEvent(later(), update))
    if rng.random() >= rules.reply:
        return planned
    text, button_id, title = None, None, None
    # STOP answers marketing only: a keyword's confirmation (transactional) is never STOPped again, so
    # a high stop rate cannot set off an endless STOP / confirmation exchange.
    if message.kind == "marketing" and rng.random() < rules.stop:
        text = STOP_TEXT
    elif message.buttons:
        button = rng.choice(message.buttons)
        button_id, title = button.id, button.title
    else:
        text = rng.choice(rules.texts)
    # Answers quote the message (WhatsApp's context): a late answer reaches the run that asked, never a
    # newer run of the same contact.
    answer = InboundMessage(
        provider_event_id=f"{ours}:answer",
        from_address=message.to,
        text=text,
        button_id=button_id,
        button_title=title,
        context_provider_message_id=ours,
    )
    planned.append(PlannedEvent(later(), answer))
    return planned


class SandboxProvider(WithoutWebhooks):
    name: ClassVar[str] = "sandbox"

    def __init__(
        self,
        *,
        sender_id: int,
        address: str,
        config: ProviderConfig,
        http: ProviderHttp | None = None,
        webhook_url: str = "",
        answers: AnswerScheduler | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.sender_id = sender_id
        self.address = address
        self.auto_reply = config.auto_reply if isinstance(config, SandboxConfig) else None
        self.answers = answers
        """None (the api process, a provider built on its own): nobody answers, whatever the config."""
        self.rng = rng or random.Random()

    async def send(self, message: Outgoing) -> SendResult:
        result = SendResult(outcome="accepted", provider_message_id=provider_message_id(message.message_id))
        if self.auto_reply is not None and self.answers is not None:
            planned = plan_answers(message, self.auto_reply, self.rng)
            if planned:
                # The message is accepted either way: a simulated answer lost to Redis is only a demo's loss.
                try:
                    await self.answers.schedule(self.sender_id, planned)
                except Exception:
                    log.warning(
                        "sandbox sender %s: no answers to message %s", self.sender_id, message.message_id
                    )
        return result

    async def aclose(self) -> None:
        return None
