"""A reply timeout counts from when its message left, not from when it was queued.

A run that sends a message with buttons waits for a tap until a timeout that the engine sets when it
stores the message. Under a sender's rate limit a large campaign's last messages leave hours after they
were stored (a million WhatsApp messages at 80 a second take three and a half hours): timed from the
store, a one-hour timeout would expire before the contact even had the message, and their tap would be
ignored. So when the send path settles a message ``sent`` and its run still waits on it, the wait's
deadline moves on by however long the message sat in the queue. Runs in the send path's own
transaction (a status observer), so the deadline and the status never disagree.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from backend.core.bulk import in_list, update_rows
from backend.messages import observers

LATE = timedelta(seconds=5)
"""Less than this in the queue changes no deadline (the usual case: no write at all)."""


class ReplyClock:
    async def statuses_changed(self, changes: list[observers.StatusChange], raw: observers.Raw) -> None:
        sent = {
            (int(change.run_id), change.message_ref): change
            for change in changes
            if "sent" in change.reached and change.run_id and change.run_id.isdigit() and change.message_ref
        }
        if not sent:
            return
        runs = sorted({run for run, _ in sent})
        timers = await raw(
            'SELECT t.id, t.run, t.fire_at, r.waiting_ref FROM "run_timers" t JOIN "runs" r ON r.id = t.run '
            f"WHERE r.id IN ({in_list(len(runs))}) AND r.status = 'waiting'",
            *runs,
        )
        waiting = [
            (timer, sent[(timer["run"], timer["waiting_ref"])])
            for timer in timers
            if (timer["run"], timer["waiting_ref"]) in sent
        ]
        if not waiting:
            return
        ids = sorted({change.message_id for _, change in waiting})
        stored = {
            row["id"]: _moment(row["created_at"])
            for row in await raw(
                f'SELECT id, created_at FROM "messages" WHERE id IN ({in_list(len(ids))})', *ids
            )
        }
        moved = []
        for timer, change in waiting:
            queued_for = change.at - stored[change.message_id]
            if queued_for >= LATE:
                moved.append((timer["id"], _moment(timer["fire_at"]) + queued_for))
        await update_rows(raw, "run_timers", "id", [("fire_at", "timestamptz")], moved)


def _moment(value: Any) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value
