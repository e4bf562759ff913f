"""Consent: marketing categories, the unsubscription list, the consent-event ledger, keywords, and the
one gate every marketing message passes (PRODUCT.md sections 4 and 5)."""
