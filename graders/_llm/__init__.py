"""Talking to model servers: the private event loop, requests, cache, token usage, and the judges."""
