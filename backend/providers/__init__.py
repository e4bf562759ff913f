"""Channel providers: how a message leaves (WhatsApp Cloud, Twilio-format SMS, Viber, SMTP, sandbox) and
how a provider's webhook is verified and read. No database here: the messages and inbound domains own
storage; a provider only speaks its wire format (see :mod:`backend.providers.base`)."""
