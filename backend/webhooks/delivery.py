"""Sending one webhook delivery attempt, and deciding what happens next.

Jobs are at-least-once (FIELD-NOTES), so a delivery is *claimed* before it is sent: a conditional
UPDATE moves ``attempts`` from n to n+1 only while the row is still pending at n. Of two workers that
picked up the same job, one wins and sends; the other finds nothing to do. A worker that dies after
the claim leaves a pending row whose lease (``next_attempt_at``) runs out; the sweeper then enqueues
the next attempt. Receivers may therefore see an attempt again after a crash, with the same
``webhook-id`` to de-duplicate on, which the Standard Webhooks spec expects.

Outcomes: 2xx succeeds; 410 Gone disables the endpoint and fails its pending deliveries; anything
else (another status, a timeout, a connection error, a URL that is now refused) is retried after the
next delay of :data:`RETRY_DELAYS`, with jitter, until they run out, then the delivery fails. A delivery
that cannot be signed or encoded fails at once (no retry can fix it), and one whose attempts all ended
without a result (a worker killed mid-attempt each time) fails once they are used up: ``failed`` is
terminal, and the delivery log shows it with ``last_error``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec

from backend.audit import service as audit
from backend.core import outbound
from backend.core.database import transaction
from backend.webhooks import signing
from backend.webhooks.service import DELIVER_JOB
from backend.webhooks.tables import WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)

RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=24),
)
"""Waits before attempts 2 to 10: about 2.7 days in all, ±10% jitter so a receiver's outage does not
end in a thundering herd."""
JITTER = 0.1
SEND_TIMEOUT_S = 10.0
CLAIM_LEASE = timedelta(seconds=60)
"""How long a claimed attempt may take before the sweeper considers its worker dead (job timeout + margin)."""
EARLY_TOLERANCE = timedelta(seconds=5)
"""A job that runs this much before its attempt is due is a stray duplicate: it leaves the row alone."""
MAX_ERROR_CHARS = 1000


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a job did: ``skipped`` (nothing to do), ``succeeded``, ``retrying``, ``failed``, ``disabled``."""

    status: str
    attempt: int = 0
    next_attempt_at: datetime | None = None
    error: str = ""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def job_id(delivery_id: int, attempts_made: int) -> str:
    """One id per attempt, so a duplicate enqueue of the same attempt is a no-op in arq."""
    return f"webhook:{delivery_id}:{attempts_made}"


def retry_delay(attempt: int, delays: Sequence[timedelta], rand: Callable[[], float]) -> timedelta | None:
    """The wait after failed attempt number ``attempt`` (1-based), or None when attempts are used up."""
    if attempt > len(delays):
        return None
    return delays[attempt - 1] * (1 + JITTER * (2 * rand() - 1))


async def _load(delivery_id: int) -> dict[str, Any] | None:
    return (
        await WebhookDelivery.select(
            *WebhookDelivery.all_columns(),
            WebhookDelivery.endpoint.url.as_alias("url"),
            WebhookDelivery.endpoint.secret.as_alias("secret"),
            WebhookDelivery.endpoint.enabled.as_alias("endpoint_enabled"),
            WebhookDelivery.workspace.allow_private_urls.as_alias("allow_private"),
        )
        .where(WebhookDelivery.id == delivery_id)
        .output(load_json=True)
        .first()
    )


async def _claim(row: dict[str, Any], now: datetime) -> bool:
    claimed = (
        await WebhookDelivery.update(
            {
                WebhookDelivery.attempts: row["attempts"] + 1,
                WebhookDelivery.next_attempt_at: now + CLAIM_LEASE,
            }
        )
        .where(
            (WebhookDelivery.id == row["id"])
            & (WebhookDelivery.status == "pending")
            & (WebhookDelivery.attempts == row["attempts"])
        )
        .returning(WebhookDelivery.id)
    )
    return bool(claimed)


def _ours(delivery_id: int, attempt: int):
    """Only the worker that claimed this attempt may record its result."""
    return (
        (WebhookDelivery.id == delivery_id)
        & (WebhookDelivery.status == "pending")
        & (WebhookDelivery.attempts == attempt)
    )


def _signed(row: dict[str, Any], now: datetime) -> tuple[bytes, dict[str, str]]:
    """The body and headers of this attempt; ValueError (or msgspec's EncodeError) when the stored
    payload or the endpoint's secret cannot make a request at all, which no retry can change."""
    body = msgspec.json.encode(row["payload"])
    return body, signing.signed_headers(row["secret"], row["message_id"], int(now.timestamp()), body)


async def _end(row: dict[str, Any], error: str) -> Outcome:
    """Fail a delivery that no further attempt can help; its log keeps why."""
    await WebhookDelivery.update(
        {
            WebhookDelivery.status: "failed",
            WebhookDelivery.next_attempt_at: None,
            WebhookDelivery.last_error: error[:MAX_ERROR_CHARS],
        }
    ).where(_ours(row["id"], row["attempts"]))
    log.warning("webhook delivery %s failed for good: %s", row["id"], error)
    return Outcome("failed", row["attempts"], error=error)


async def _send(
    client: httpx.AsyncClient, row: dict[str, Any], body: bytes, headers: dict[str, str]
) -> tuple[int | None, str]:
    """POST the signed payload; the answer's status code (None when there was none) and an error text."""
    try:
        response = await outbound.request(
            client,
            "POST",
            row["url"],
            headers=headers,
            body=body,
            timeout_s=SEND_TIMEOUT_S,
            allow_private=row["allow_private"],
        )
    except outbound.RefusedURL as exc:
        return None, f"refused: {exc}"
    except httpx.TimeoutException:
        return None, f"no answer within {SEND_TIMEOUT_S:g} s"
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    except Exception as exc:  # a malformed URL or a transport bug must not leave the claim hanging
        log.exception("webhook delivery %s failed unexpectedly", row["id"])
        return None, f"{type(exc).__name__}: {exc}"
    if 200 <= response.status_code < 300:
        return response.status_code, ""
    body_text = (
        response.body if isinstance(response.body, str) else msgspec.json.encode(response.body).decode()
    )
    detail = f": {body_text[:300]}" if response.body not in (None, "") else ""
    return response.status_code, f"HTTP {response.status_code}{detail}"


async def deliver(
    delivery_id: int,
    *,
    client: httpx.AsyncClient,
    queue: Any,
    delays: Sequence[timedelta] = RETRY_DELAYS,
    clock: Callable[[], datetime] = _utcnow,
    rand: Callable[[], float] = random.random,
    attempts_made: int | None = None,
) -> Outcome:
    """Make the due attempt of one delivery and record it; schedule the next attempt on failure.

    Safe to call any number of times for the same delivery: only a pending, due, unclaimed attempt is
    sent. ``attempts_made`` (given by retry and sweeper jobs) pins the attempt a job was made for, so a
    stale job cannot make a later attempt early. ``queue`` (an ArqRedis) gets the retry job; None
    leaves retries to the sweeper.
    """
    row = await _load(delivery_id)
    if row is None or row["status"] != "pending":
        return Outcome("skipped")
    if attempts_made is not None and row["attempts"] != attempts_made:
        return Outcome("skipped", row["attempts"])
    now = clock()
    if not row["endpoint_enabled"]:
        await WebhookDelivery.update(
            {
                WebhookDelivery.status: "failed",
                WebhookDelivery.next_attempt_at: None,
                WebhookDelivery.last_error: "the endpoint is disabled",
            }
        ).where(_ours(delivery_id, row["attempts"]))
        return Outcome("failed", row["attempts"], error="the endpoint is disabled")
    if row["next_attempt_at"] is not None and row["next_attempt_at"] > now + EARLY_TOLERANCE:
        return Outcome("skipped", row["attempts"], row["next_attempt_at"])
    # Every job ends the delivery or counts an attempt, so none is retried for ever: a request that
    # cannot be made fails at once, and attempts that never recorded a result (their worker died each
    # time) still use up the budget that ordinary failures do.
    try:
        body, headers = _signed(row, now)
    except (ValueError, msgspec.EncodeError) as exc:
        return await _end(row, f"cannot be sent: {exc}")
    if row["attempts"] > len(delays):
        return await _end(
            row, f"gave up after {row['attempts']} attempts; the last ones ended without a result"
        )
    if not await _claim(row, now):
        return Outcome("skipped", row["attempts"])
    attempt = row["attempts"] + 1

    status_code, error = await _send(client, row, body, headers)
    finished = clock()
    if status_code is not None and 200 <= status_code < 300:
        await WebhookDelivery.update(
            {
                WebhookDelivery.status: "succeeded",
                WebhookDelivery.delivered_at: finished,
                WebhookDelivery.next_attempt_at: None,
                WebhookDelivery.last_status_code: status_code,
                WebhookDelivery.last_error: "",
            }
        ).where(_ours(delivery_id, attempt))
        return Outcome("succeeded", attempt)
    if status_code == 410:
        await _disable_endpoint(row, attempt, finished)
        return Outcome("disabled", attempt, error=error)
    return await _after_failure(row, attempt, status_code, error, finished, queue, delays, rand)


async def _after_failure(
    row: dict[str, Any],
    attempt: int,
    status_code: int | None,
    error: str,
    finished: datetime,
    queue: Any,
    delays: Sequence[timedelta],
    rand: Callable[[], float],
) -> Outcome:
    delay = retry_delay(attempt, delays, rand)
    next_at = finished + delay if delay is not None else None
    await WebhookDelivery.update(
        {
            WebhookDelivery.status: "pending" if delay is not None else "failed",
            WebhookDelivery.next_attempt_at: next_at,
            WebhookDelivery.last_status_code: status_code,
            WebhookDelivery.last_error: error[:MAX_ERROR_CHARS],
        }
    ).where(_ours(row["id"], attempt))
    if delay is None:
        log.warning("webhook delivery %s failed after %d attempts: %s", row["id"], attempt, error)
        return Outcome("failed", attempt, error=error)
    if queue is not None:
        try:
            await queue.enqueue_job(
                DELIVER_JOB, row["id"], attempt, _job_id=job_id(row["id"], attempt), _defer_by=delay
            )
        except Exception:  # the row says when it is due: the sweeper enqueues it if this did not
            log.warning("could not enqueue the retry of webhook delivery %s", row["id"], exc_info=True)
    return Outcome("retrying", attempt, next_at, error)


async def _disable_endpoint(row: dict[str, Any], attempt: int, finished: datetime) -> None:
    """The receiver said 410 Gone: stop sending to it until an admin re-enables it."""
    reason = f"the endpoint answered 410 Gone at {finished.isoformat(timespec='seconds')}"
    async with transaction():
        await WebhookDelivery.update(
            {
                WebhookDelivery.status: "failed",
                WebhookDelivery.next_attempt_at: None,
                WebhookDelivery.last_status_code: 410,
                WebhookDelivery.last_error: "HTTP 410: the endpoint is gone; it was disabled",
            }
        ).where(_ours(row["id"], attempt))
        disabled = (
            await WebhookEndpoint.update(
                {WebhookEndpoint.enabled: False, WebhookEndpoint.disabled_reason: reason}
            )
            .where((WebhookEndpoint.id == row["endpoint"]) & (WebhookEndpoint.enabled == True))  # noqa: E712
            .returning(WebhookEndpoint.id)
        )
        await WebhookDelivery.update(
            {
                WebhookDelivery.status: "failed",
                WebhookDelivery.next_attempt_at: None,
                WebhookDelivery.last_error: "not sent: the endpoint was disabled after 410 Gone",
            }
        ).where((WebhookDelivery.endpoint == row["endpoint"]) & (WebhookDelivery.status == "pending"))
        if disabled:
            await audit.record_system(
                row["workspace"],
                "webhook.disabled",
                actor_label="webhook delivery",
                target_type="webhook",
                target_id=row["endpoint"],
                data={"reason": reason, "url": row["url"]},
            )
    log.info("webhook endpoint %s disabled: %s", row["endpoint"], reason)


async def sweep(queue: Any, *, now: datetime | None = None, grace: timedelta = timedelta(minutes=1)) -> int:
    """Enqueue pending deliveries overdue by more than ``grace``: their job was lost (Redis restarted
    without persistence) or their worker died mid-attempt. Returns how many jobs were enqueued;
    an attempt whose job is still queued keeps its id, so arq ignores the duplicate."""
    cutoff = (now or _utcnow()) - grace
    rows = (
        await WebhookDelivery.select(WebhookDelivery.id, WebhookDelivery.attempts)
        .where(
            (WebhookDelivery.status == "pending")
            & (
                (WebhookDelivery.next_attempt_at < cutoff)
                | (WebhookDelivery.next_attempt_at.is_null() & (WebhookDelivery.created_at < cutoff))
            )
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(1000)
    )
    enqueued = 0
    for row in rows:
        job = await queue.enqueue_job(
            DELIVER_JOB, row["id"], row["attempts"], _job_id=job_id(row["id"], row["attempts"])
        )
        enqueued += job is not None
    return enqueued
