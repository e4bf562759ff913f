"""Senders: the numbers and addresses a workspace sends from, with provider settings and keyword rules."""
