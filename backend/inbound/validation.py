"""The one check that a provider's parsed event can be read back by the worker, made before it is stored.

Provider modules build :data:`~backend.providers.base.InboundEvent` structs field by field from the
provider's JSON or form body, and msgspec checks types only while decoding, never in a struct's
constructor: a correctly signed WhatsApp message whose ``text.body`` is an object became an event whose
``text`` is a dict, was stored, and then failed to decode in the worker on every attempt. Checking here,
with the very decoding the worker does, keeps the rule in one place for every provider (and the sandbox):
an event that fails is stored ``rejected`` with the reason, the webhook is still acknowledged (the
provider re-delivering the same body cannot fix it), and nothing is enqueued for it.
"""

from __future__ import annotations

import msgspec

from backend.providers.base import InboundEvent as Event

MAX_REASON = 2000
"""The length of ``inbound_events.error`` kept for a reason (the processing errors' limit too)."""


def payload_problem(event: Event) -> str | None:
    """Why the worker could not read ``event`` back (the field and the type it needed), or None."""
    try:
        msgspec.json.decode(msgspec.json.encode(event), type=Event)
    except (msgspec.ValidationError, msgspec.EncodeError, msgspec.DecodeError) as exc:
        return f"not a valid {type(event).__struct_config__.tag} event from the provider: {exc}"[:MAX_REASON]
    return None
