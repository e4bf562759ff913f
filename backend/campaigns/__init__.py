"""Campaigns: a published flow sent to a group on a schedule, with live stats and reports.

Owns the campaign rows and their state machine, the scheduler that starts, triggers and ends them, the
audience each trigger enrolls, the live counters and the per-contact report. The runs themselves are
hosted by :mod:`backend.runs`; this domain plugs into it through :mod:`backend.runs.hooks`.
"""
