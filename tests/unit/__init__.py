"""The unit tier: domain modules tested alone (no disk, no event loop, no server, no engine)."""
