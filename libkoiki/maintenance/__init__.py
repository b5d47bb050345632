"""Maintenance mode: one switch that every replica obeys within about a second.

`state` reads and writes the switch (Redis and a file), `switch` keeps a per-process copy fresh,
`middleware` answers 503 `maintenance` for the API while it is on.
"""
