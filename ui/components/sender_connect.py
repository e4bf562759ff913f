""" "Connect the provider": what an admin pastes into the provider's dashboard so its messages and delivery
statuses reach Flowgate: the webhook URL (``/webhooks/{sender_id}`` on the deployment's public URL, as
the API reports it in ``webhook_url``) and, for WhatsApp, the verify token of the subscription handshake.

The verify token is a secret like the others: the API never shows it again. It is shown here only right
after it was typed or generated (on the page that saved it), and otherwise "set", with a button that makes
a new one, saves it and shows it this once.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable
from ui.clients import senders as senders_api
from ui.clients.senders import SenderInfo
from ui.components.copy_field import copy_field
from ui.components.page_states import action_failed
from ui.components.sender_parts import CARD
from ui.components.sender_rules import PROVIDERS, WEBHOOK_STEPS, new_verify_token, viber_set_webhook_command
from ui.session import Session

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "0.0.0.0")


def local_only(url: str) -> bool:
    """Whether a webhook URL can only be reached from this machine (a provider can never call it)."""
    return (urlsplit(url).hostname or "") in LOCAL_HOSTS


class ConnectCard:
    """The webhook URL with a copy button, and the verify token where the provider needs one."""

    def __init__(
        self,
        session: Session,
        sender: SenderInfo,
        fresh_token: str | None = None,
    ) -> None:
        self.session = session
        self.sender = sender
        self.fresh_token = fresh_token
        """A verify token saved moments ago on this page: the only time it can be shown."""

    def build(self) -> None:
        sender = self.sender
        url = sender["webhook_url"]
        if not url:
            return
        with ui.card().classes(CARD).mark("connect-card"):
            with ui.column().classes("gap-1"):
                ui.label(f"Connect the {PROVIDERS.get(sender['provider'], sender['provider'])}").classes(
                    "text-lg font-semibold text-slate-900"
                )
                ui.label(WEBHOOK_STEPS.get(sender["provider"], "")).classes("text-sm text-slate-600")
            copy_field("Webhook URL", url, "webhook-url")
            if local_only(url):
                with (
                    ui.row()
                    .classes("w-full items-start gap-2 no-wrap rounded-lg bg-amber-50 p-3")
                    .mark("local-url-warning")
                ):
                    ui.icon("warning_amber", size="1.25rem").classes("text-amber-600 shrink-0")
                    ui.label(
                        "This address only works on this machine: a provider cannot call it. Run Flowgate "
                        "with FLOWGATE_PUBLIC_URL set to the https address the internet reaches it at, "
                        "and this URL follows."
                    ).classes("text-sm text-amber-900")
            if sender["provider"] == "whatsapp_cloud":
                self.token_box = ui.column().classes("w-full gap-2")
                self._draw_token()
            elif sender["provider"] == "viber":
                base = str(sender["config"].get("api_base_url") or "https://chatapi.viber.com/pa")
                copy_field(
                    "set_webhook command",
                    viber_set_webhook_command(url, base),
                    "viber-command",
                    multiline=True,
                )

    def _draw_token(self) -> None:
        self.token_box.clear()
        with self.token_box:
            if self.fresh_token:
                copy_field("Verify token", self.fresh_token, "verify-token")
                with (
                    ui.row()
                    .classes("w-full items-start gap-2 no-wrap rounded-lg bg-amber-50 p-3")
                    .mark("shown-once")
                ):
                    ui.icon("warning_amber", size="1.25rem").classes("text-amber-600 shrink-0")
                    ui.label(
                        "Paste it into Meta's dashboard now: Flowgate keeps it but never shows it again. "
                        "If it is lost, make a new one."
                    ).classes("text-sm text-amber-900")
                return
            is_set = "verify_token" in self.sender["secrets_set"]
            with ui.row().classes("w-full items-center gap-3"):
                ui.label("Verify token").classes("text-sm text-slate-700")
                ui.label("set" if is_set else "not set").classes(
                    "text-xs font-medium px-2 py-0.5 rounded-full "
                    + ("bg-emerald-50 text-emerald-700" if is_set else "bg-amber-50 text-amber-800")
                ).mark("verify-token-state")
                ui.space()
                ui.button("Make a new verify token", icon="autorenew", on_click=self.renew).props(
                    "outline no-caps"
                ).mark("renew-verify-token")
            ui.label(
                "The token you saved with this sender; Flowgate does not show it again. Meta asks for it "
                "only when you (re)subscribe the webhook, so a new one does not disturb a working "
                "subscription."
            ).classes("text-xs text-slate-500")

    async def renew(self) -> None:
        token = new_verify_token()
        try:
            saved = await senders_api.update_sender(
                self.session.token, self.sender["id"], {"config": {"verify_token": token}}
            )
        except (ApiError, BackendUnreachable) as exc:
            action_failed(exc, "No new verify token was saved", here=f"/senders/{self.sender['id']}")
            return
        self.sender = saved
        self.fresh_token = token
        ui.notify("A new verify token is saved.", type="positive")
        self._draw_token()  # last: it deletes the button whose click this is
