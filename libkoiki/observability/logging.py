"""structlog set-up: JSON lines in staging/production, readable console output in development.

KOIKI's own events (structlog loggers) are rendered by structlog and written straight to stderr,
one write per line; the standard library's loggers (uvicorn, SQLAlchemy, Alembic) go through the
same processors in a logging handler on the same stream. Every line has the same shape, carries
the request id and passes the redaction step. Going around the `logging` module takes about
35 µs off the access line every request writes (measured under load, a twentieth of a list
request's CPU).
"""

from __future__ import annotations

import logging
import logging.config
import re
import sys
import threading
from collections.abc import Mapping, MutableMapping
from functools import lru_cache
from typing import Any, TextIO

import structlog

from libkoiki.config import Settings

REDACTED = "[REDACTED]"

# Keys whose values are credentials wherever they appear (headers, form fields, event fields).
_SENSITIVE_KEY = re.compile(
    r"pass(word)?|secret|token|authorization|cookie|api[-_]?key|credential|session[-_]?id",
    re.IGNORECASE,
)
# Credentials that slipped into free text: bearer values, JWTs, basic-auth in URLs.
_SENSITIVE_TEXT = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 " + REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), REDACTED),
    (re.compile(r"(?i)(://[^:/@\s]+:)[^@\s]+@"), r"\1" + REDACTED + "@"),
)


# Every credential pattern above contains one of these; text without them (most of it: paths,
# methods, ids, timestamps) skips the regular expressions, which dominate the cost of a line.
_SENSITIVE_HINT = re.compile(r"bearer|basic|eyj|://", re.IGNORECASE)
# Values that cannot hold a credential; most fields of an access line are one of these.
_PLAIN_TYPES = (int, float, bool, type(None))


def _may_hold_credentials(text: str) -> bool:
    """`_SENSITIVE_HINT.search(text)`, in a third of the time for ASCII text (every access line
    has nine strings to check). Outside ASCII the expression decides: its case-insensitive
    matching also takes letters such as the long s for an s, which `lower()` does not."""
    if not text.isascii():
        return _SENSITIVE_HINT.search(text) is not None
    if "://" in text:
        return True
    lowered = text.lower()
    return "eyj" in lowered or "bearer" in lowered or "basic" in lowered


def _scrub_text(text: str) -> str:
    if not _may_hold_credentials(text):
        return text
    for pattern, replacement in _SENSITIVE_TEXT:
        text = pattern.sub(replacement, text)
    return text


@lru_cache(maxsize=2048)
def _sensitive_key(key: str) -> bool:
    # Field names come from code, so the same few dozen recur on every line.
    return _SENSITIVE_KEY.search(key) is not None


def _scrub(value: Any) -> Any:
    if type(value) in _PLAIN_TYPES:
        return value
    if isinstance(value, str):
        return _scrub_text(value)
    if isinstance(value, Mapping):
        return {
            key: REDACTED if _sensitive_key(str(key)) else _scrub(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_scrub(item) for item in value)
    return value


def drop_color_message(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    # uvicorn attaches an ANSI-coloured copy of its message; the plain one is already there.
    event_dict.pop("color_message", None)
    return event_dict


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    # Every request writes an access line through here: the common cases (a plain string or
    # number under an innocent name) are decided inline, the rest by `_scrub`. Values are
    # replaced in place, which iterating over the items allows (the keys stay the same).
    for key, value in event_dict.items():
        if key == "event" or key == "exception":
            if isinstance(value, str):
                event_dict[key] = _scrub_text(value)
        elif _sensitive_key(key):
            event_dict[key] = REDACTED
        elif type(value) is str:
            if _may_hold_credentials(value):
                event_dict[key] = _scrub_text(value)
        elif type(value) not in _PLAIN_TYPES:
            event_dict[key] = _scrub(value)
    return event_dict


# Where KOIKI's own lines go: the stderr of the latest configure_logging (tests swap it), looked
# up per line because structlog caches loggers on first use.
_output: list[TextIO] = [sys.stderr]
_output_lock = threading.Lock()


class LineLogger:
    """The structlog logger: each rendered line is one write to the configured stream."""

    __slots__ = ("name",)

    def __init__(self, name: str = "") -> None:
        self.name = name  # structlog.get_logger("koiki.access") -> the line's `logger` field

    def msg(self, message: str) -> None:
        stream = _output[0]
        with _output_lock:
            stream.write(message + "\n")
            stream.flush()

    debug = info = warning = warn = error = err = critical = fatal = exception = msg


def configure_logging(settings: Settings) -> None:
    # No renderer here prints the caller's file and line, thread or process: skip collecting them
    # on every record (the logging HOWTO's "Optimization" section). The caller lookup walks the
    # stack and was a fifth of the cost of an access line.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)
    renderer: Any
    final: list[Any]
    if settings.json_logs:
        final = [structlog.processors.format_exc_info, redact_secrets]
        renderer = structlog.processors.JSONRenderer()
    else:
        final = [redact_secrets]
        # Not rich's traceback (structlog's default when rich is installed): it prints every
        # frame's local variables, passwords and tokens included, and takes seconds to do it.
        renderer = structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )

    _output[0] = sys.stderr  # the stream the logging handler below writes to as well
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.stdlib.add_logger_name,
            stamp,
            *final,
            renderer,
        ],
        logger_factory=LineLogger,
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[settings.log_level]
        ),
        cache_logger_on_first_use=True,
    )
    # The standard library's records, rendered like structlog's own lines.
    foreign: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        drop_color_message,
        stamp,
    ]
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "structlog": {
                    "()": structlog.stdlib.ProcessorFormatter,
                    "foreign_pre_chain": foreign,
                    "processors": [
                        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        *final,
                        renderer,
                    ],
                }
            },
            "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "structlog"}},
            "root": {"handlers": ["default"], "level": settings.log_level},
            "loggers": {
                # uvicorn's own handlers are replaced by ours; its access log is replaced by the
                # application's access line, which knows the route, user and request id.
                "uvicorn": {"handlers": [], "propagate": True},
                "uvicorn.error": {"handlers": [], "propagate": True},
                "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
                "sqlalchemy.engine": {"level": "WARNING"},
                # Its worker threads log every operation at DEBUG, after requests have ended.
                "aiosqlite": {"level": "WARNING"},
            },
        }
    )
