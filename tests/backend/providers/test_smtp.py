"""SMTP provider against a fake aiosmtpd relay."""

from __future__ import annotations

import pytest

from tests.backend.providers.helpers import outgoing


def _email(**fields):
    values = {
        "channel": "email",
        "to": "ana@example.org",
        "sender_address": "news@acme.example",
        "subject": "Spring sale",
        "text": "20% off",
        "html": "<p>20% off</p>",
    }
    values.update(fields)
    return outgoing(**values)


@pytest.fixture
def mailer(fake_smtp, provider_for):
    return provider_for("smtp", fake_smtp.config(from_name="Acme"), address="news@acme.example")


async def test_marketing_mail_has_one_click_unsubscribe_headers(mailer, fake_smtp):
    result = await mailer.send(_email(kind="marketing", unsubscribe_url="https://f.example/u/tok"))

    assert result.outcome == "accepted"
    assert result.provider_message_id == "<flowgate.7.42@acme.example>"
    [received] = fake_smtp.messages
    assert (received.mail_from, received.rcpt_tos) == ("news@acme.example", ["ana@example.org"])
    mail = received.message
    assert mail["From"] == "Acme <news@acme.example>"
    assert mail["Subject"] == "Spring sale"
    assert mail["Message-ID"] == "<flowgate.7.42@acme.example>"
    assert mail["List-Unsubscribe"] == "<https://f.example/u/tok>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    parts = {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in mail.walk()
        if not part.is_multipart()
    }
    assert parts["text/plain"].strip() == "20% off"
    assert parts["text/html"].strip() == "<p>20% off</p>"


async def test_transactional_mail_has_no_unsubscribe_headers(mailer, fake_smtp):
    result = await mailer.send(_email(kind="transactional", unsubscribe_url="https://f.example/u/tok"))
    assert result.outcome == "accepted"
    mail = fake_smtp.messages[0].message
    assert mail["List-Unsubscribe"] is None
    assert mail["List-Unsubscribe-Post"] is None


async def test_connection_is_reused_across_sends(mailer, fake_smtp):
    for message_id in (1, 2, 3):
        assert (await mailer.send(_email(message_id=message_id))).outcome == "accepted"
    assert fake_smtp.connections == 1
    await mailer.aclose()


async def test_permanent_refusal_is_rejected_and_temporary_is_retried(mailer, fake_smtp):
    fake_smtp.fail("rcpt", "550 5.1.1 No such user")
    result = await mailer.send(_email())
    assert (result.outcome, result.error_code) == ("rejected", "550")

    fake_smtp.fail("data", "451 4.3.0 Try again later")
    result = await mailer.send(_email())
    assert (result.outcome, result.error_code) == ("retry", "451")

    assert (await mailer.send(_email())).outcome == "accepted"
    assert len(fake_smtp.messages) == 1


async def test_no_answer_after_data_is_unknown_with_a_known_message_id(fake_smtp, provider_for):
    from backend.providers.smtp import SmtpProvider
    from backend.senders.provider_config import decode

    provider = SmtpProvider(
        sender_id=7, address="news@acme.example", config=decode("smtp", fake_smtp.config()), timeout=1.0
    )
    fake_smtp.hang_after_data()
    result = await provider.send(_email())
    assert (result.outcome, result.provider_message_id) == ("unknown", "<flowgate.7.42@acme.example>")
    assert len(fake_smtp.messages) == 1
    await provider.aclose()


async def test_unreachable_relay_is_retried(provider_for):
    from tests.conftest import free_port

    provider = provider_for("smtp", {"host": "127.0.0.1", "port": free_port(), "security": "none"})
    assert (await provider.send(_email())).outcome == "retry"


async def test_login_when_a_username_is_set(fake_smtp_auth, provider_for):
    provider = provider_for("smtp", fake_smtp_auth.config(), address="news@acme.example")
    assert (await provider.send(_email())).outcome == "accepted"
    assert fake_smtp_auth.messages[0].login == "mailer"

    wrong = provider_for("smtp", fake_smtp_auth.config(password="wrong"), address="news@acme.example", id=8)
    result = await wrong.send(_email())
    assert (result.outcome, result.error_code) == ("rejected", "535")


async def test_media_is_shown_in_the_html_and_linked_in_the_text(mailer, fake_smtp):
    result = await mailer.send(_email(html=None, text="New in", media_url="https://cdn.example/new.jpg"))
    assert result.outcome == "accepted"
    mail = fake_smtp.messages[0].message
    parts = {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in mail.walk()
        if not part.is_multipart()
    }
    text, html = parts["text/plain"], parts["text/html"]
    assert "New in" in text and "https://cdn.example/new.jpg" in text
    assert '<img src="https://cdn.example/new.jpg"' in html and "<p>New in</p>" in html
