"""The chat-flow graph: schema, validation and a pure interpreter.

Nothing in this package does I/O or reads the clock: the same code runs in the api (validation,
previews), in workers (campaign runs) and in tests, over versioned JSON flow definitions.
"""
