"""Seldon Core 1.x's protocol: the message's envelope, its payload, and the user-class hooks."""
