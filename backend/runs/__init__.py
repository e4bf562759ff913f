"""Flow runs: one contact's journey through one published flow version, hosted for every trigger.

Campaigns, keyword triggers and the API start runs; this domain steps them with the pure interpreter
(:mod:`flows.interpreter`), performs what it asks for (sends through the gateway, timers, contact
changes, consent, HTTP calls) and feeds the outcomes back. It knows campaigns only through
:mod:`backend.runs.hooks`, which the campaigns domain fills in.
"""
