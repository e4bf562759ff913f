"""Previews: a marketer walks a published flow version as a test contact, with nothing sent to anyone.

The same pure interpreter that runs campaigns runs here; the preview is its host: it turns send actions
into chat bubbles, keeps timers for "skip wait", and performs HTTP requests through the outbound guard.
Previews are scratch data, kept in Redis for a day, not in the database.
"""
