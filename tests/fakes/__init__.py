"""Fake servers that speak the real protocols on 127.0.0.1, driven by the real client libraries."""

# A fake stops within this many seconds even while it holds a request on purpose (a gate, a hung model):
# aiohttp's default of 60 s made a test wait a minute on its own fake's shutdown.
SHUTDOWN_TIMEOUT = 0.5
