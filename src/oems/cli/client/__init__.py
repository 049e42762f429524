"""The `clear-street` command: the Clear Street Trading API v1 from a terminal, over the official SDK."""
