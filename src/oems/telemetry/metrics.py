"""Prometheus metrics: requests by route, latency, journal batch sizes and fsync time."""

from __future__ import annotations

from typing import Any

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


_request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one request and record its latency."""
    # Label lookups cost microseconds per request; the labelled children are cached instead.
    key = (method, route, status)
    children = _request_children.get(key)
    if children is None:
        children = (REQUESTS.labels(method, route, str(status)), LATENCY.labels(method, route))
        _request_children[key] = children
    children[0].inc()
    children[1].observe(seconds)


def observe_journal_batch(events: int, seconds: float) -> None:
    """Record one journal commit: how many events and how long the fsync took."""
    JOURNAL_BATCH.observe(events)
    JOURNAL_FSYNC.observe(seconds)


def exposition() -> bytes:
    """The metrics in Prometheus text format."""
    return generate_latest(REGISTRY)
