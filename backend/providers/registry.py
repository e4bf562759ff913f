"""Which provider object serves a sender, built from its row and the process's shared HTTP client.

A worker sends for many senders; building a provider decodes its config (and for SMTP holds a
connection), so providers are cached per sender and rebuilt only when the row changed: the cache key is
``(sender id, updated_at, provider)``, so an edited token takes effect on the next send without a
restart, and an unchanged sender costs one dict lookup.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import TYPE_CHECKING, Any

from backend.providers.base import Provider
from backend.providers.http import ProviderHttp, make_http_client
from backend.senders import provider_config

if TYPE_CHECKING:  # provider modules are imported on first use
    from backend.providers.sandbox import AnswerScheduler

__all__ = ["PROVIDER_CLASSES", "Providers", "make_http_client", "webhook_url"]

PROVIDER_CLASSES: dict[str, str] = {
    "whatsapp_cloud": "backend.providers.whatsapp_cloud:WhatsAppCloudProvider",
    "sms_http": "backend.providers.sms_http:SmsHttpProvider",
    "viber": "backend.providers.viber:ViberProvider",
    "smtp": "backend.providers.smtp:SmtpProvider",
    "sandbox": "backend.providers.sandbox:SandboxProvider",
}
"""Provider name (``senders.provider``) -> implementing class, imported on first use."""


def webhook_url(public_url: str, sender_id: int) -> str:
    """Where a sender's provider posts inbound messages and statuses (API.md ``/webhooks/{sender_id}``)."""
    return f"{public_url.rstrip('/')}/webhooks/{sender_id}"


def _provider_class(name: str) -> type:
    try:
        target = PROVIDER_CLASSES[name]
    except KeyError:
        raise ValueError(f"unknown provider {name!r}") from None
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


class Providers:
    """Per process: the shared client and one provider per sender, rebuilt when the sender row changed
    (cache key: sender id + updated_at + provider)."""

    def __init__(
        self,
        http: ProviderHttp | None = None,
        *,
        public_url: str,
        sandbox_answers: AnswerScheduler | None = None,
    ) -> None:
        self.http = http if http is not None else make_http_client()
        self._owns_http = http is None
        self.public_url = public_url.rstrip("/")
        self.sandbox_answers = sandbox_answers
        """Where sandbox senders with ``auto_reply`` hand their simulated answers (the worker's); None:
        their customers stay silent."""
        self._cache: dict[int, tuple[tuple[Any, str], Provider]] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def for_sender(self, sender: dict[str, Any]) -> Provider:
        """The provider for a full ``senders`` row (``service.load_sender``: config with secrets)."""
        sender_id = int(sender["id"])
        key = (sender.get("updated_at"), str(sender["provider"]))
        cached = self._cache.get(sender_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        provider = self._build(sender)
        self._cache[sender_id] = (key, provider)
        if cached is not None:
            self._retire(cached[1])
        return provider

    def _build(self, sender: dict[str, Any]) -> Provider:
        name = str(sender["provider"])
        cls = _provider_class(name)
        config = provider_config.decode(name, sender.get("config") or {})
        # Only the sandbox simulates the other end of the line; real providers answer through webhooks.
        extra: dict[str, Any] = {"answers": self.sandbox_answers} if name == "sandbox" else {}
        return cls(
            sender_id=int(sender["id"]),
            address=str(sender["address"]),
            config=config,
            http=self.http,
            webhook_url=webhook_url(self.public_url, int(sender["id"])),
            **extra,
        )

    def _retire(self, provider: Provider) -> None:
        """Close a replaced provider (SMTP connection) without making ``for_sender`` async."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(provider.aclose())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        providers = [provider for _, provider in self._cache.values()]
        self._cache.clear()
        for provider in providers:
            await provider.aclose()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        if self._owns_http:
            await self.http.aclose()
