"""Inbound: provider webhooks (verified, stored, de-duplicated, acknowledged fast) and the worker that acts
on them: keywords through the consent service, HELP, delivery statuses, replies for the flow runtime."""
