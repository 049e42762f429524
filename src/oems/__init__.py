"""oems: a self-hosted order and execution management server speaking the Clear Street Trading API v1."""

__version__ = "0.1.0"
API_VERSION = "2025-10-31"
