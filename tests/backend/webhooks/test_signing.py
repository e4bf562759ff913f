"""Signatures as the Standard Webhooks spec defines them, checked against the spec's published vector and
against the independent receiver in ``receiver.py``."""

from __future__ import annotations

import base64
import time

from tests.backend.webhooks.receiver import verify

# The Standard Webhooks specification's test vector.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_spec_test_vector():
    from backend.webhooks.signing import sign

    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_headers_carry_id_timestamp_signature_and_json_type():
    from backend.webhooks.signing import signed_headers

    headers = signed_headers(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY)
    assert headers == {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
        "content-type": "application/json",
    }


def test_new_secrets_are_whsec_with_32_random_bytes():
    from backend.webhooks.signing import new_secret

    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32


def test_receiver_accepts_the_vector_and_refuses_wrong_secret_body_or_time():
    headers = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }
    at = VECTOR_TIMESTAMP + 10
    assert verify(VECTOR_SECRET, headers, VECTOR_BODY, now=at) is None
    # Several signatures (key rotation) are space-separated: one match is enough.
    rotated = {**headers, "webhook-signature": "v1,bm90LXRoaXMtb25l " + VECTOR_SIGNATURE}
    assert verify(VECTOR_SECRET, rotated, VECTOR_BODY, now=at) is None

    other_secret = "whsec_" + base64.b64encode(b"another endpoint's secret bytes!").decode()
    assert verify(other_secret, headers, VECTOR_BODY, now=at) == "no signature matches"
    assert verify(VECTOR_SECRET, headers, b'{"test": 2432232315}', now=at) == "no signature matches"
    assert verify(VECTOR_SECRET, {**headers, "webhook-id": "msg_other"}, VECTOR_BODY, now=at) is not None
    assert verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP + 301) == (
        "timestamp outside the tolerance"
    )
    assert verify(VECTOR_SECRET, headers, VECTOR_BODY, now=time.time()) is not None
