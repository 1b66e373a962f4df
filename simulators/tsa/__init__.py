"""A time-stamping authority (RFC 3161) over HTTP, for the demo and the tests."""
