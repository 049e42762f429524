"""What the server tells its operator about itself: Prometheus metrics and the trading log.

Below the API and the runtime, which both report here; it reads the domain and nothing else.
"""
