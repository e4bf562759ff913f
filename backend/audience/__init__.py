"""Contacts and groups: who can be messaged, by which address, and which groups they belong to."""
