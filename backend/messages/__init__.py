"""Messages: every message Flowgate sends or receives, the send API, the outbound pipeline (consent gate,
rate limits, retries, reconciliation) and the conversation timeline."""
