"""Outbound webhooks: every consent event, signed per the Standard Webhooks spec, delivered by the worker
with retries and a delivery log."""
