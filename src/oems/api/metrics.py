"""Prometheus metrics: requests by route, latency, journal batch sizes and fsync time."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

REGISTRY = CollectorRegistry()
REQUESTS = Counter(
    "oems_http_requests_total",
    "HTTP requests by route and status",
    ["method", "route", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "oems_http_request_seconds",
    "HTTP request latency by route",
    ["method", "route"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
    registry=REGISTRY,
)
JOURNAL_BATCH = Histogram(
    "oems_journal_batch_events",
    "Events per journal batch (one fsync each)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
    registry=REGISTRY,
)
JOURNAL_FSYNC = Histogram(
    "oems_journal_commit_seconds",
    "Time to commit and fsync one journal batch",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
    registry=REGISTRY,
)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one request and record its latency."""
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


def observe_journal_batch(events: int, seconds: float) -> None:
    """Record one journal commit: how many events and how long the fsync took."""
    JOURNAL_BATCH.observe(events)
    JOURNAL_FSYNC.observe(seconds)


def exposition() -> bytes:
    """The metrics in Prometheus text format."""
    return generate_latest(REGISTRY)
