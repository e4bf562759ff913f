"""The sandbox provider: accepts everything and calls nobody, for demos, previews and tests.

Its "sent" messages are simply the stored messages; a contact's reply is simulated through the
authenticated ``POST /api/v1/senders/{id}/sandbox/inbound`` endpoint, so the public
``/webhooks/{sender_id}`` path has nothing to accept for a sandbox sender: :meth:`verify` is always
False there (fail closed: nobody can forge a sandbox inbound without an API key).
"""

from __future__ import annotations

from typing import ClassVar

from backend.providers.base import Outgoing, SendResult, WithoutWebhooks
from backend.providers.http import ProviderHttp
from backend.senders.provider_config import ProviderConfig


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
    ) -> None:
        self.sender_id = sender_id
        self.address = address

    async def send(self, message: Outgoing) -> SendResult:
        return SendResult(outcome="accepted", provider_message_id=f"sandbox-{message.message_id}")

    async def aclose(self) -> None:
        return None
