"""FastAPI's own OpenTelemetry is the operator's choice: spans only with OTEL_ENABLED=true.

Off, the app skips even the per-request check whether a provider is configured; on, requests
are traced by whatever provider the process set up (here an in-memory one).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.conftest import ClientFactory


@pytest.fixture(scope="module")
def exported_spans() -> InMemorySpanExporter:
    # The global provider can be set once per process; apps without OTEL_ENABLED ignore it.
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter


@pytest.fixture
def spans(exported_spans: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    exported_spans.clear()
    yield exported_spans
    exported_spans.clear()


async def test_no_spans_by_default(make_client: ClientFactory, spans: InMemorySpanExporter) -> None:
    async with make_client() as client:
        assert (await client.get("/health")).status_code == 200
    assert spans.get_finished_spans() == ()


async def test_requests_are_traced_when_enabled(
    make_client: ClientFactory, spans: InMemorySpanExporter
) -> None:
    async with make_client(otel_enabled=True) as client:
        assert (await client.get("/health")).status_code == 200
    server_spans = [
        span for span in spans.get_finished_spans() if span.kind is trace.SpanKind.SERVER
    ]
    assert [span.name for span in server_spans] == ["GET /health"]
    assert server_spans[0].attributes is not None
    assert server_spans[0].attributes["http.response.status_code"] == 200
