"""Which address is the client's, for every shape of proxy header a deployment produces."""

from __future__ import annotations

import pytest

from libkoiki.http.client_ip import TrustedProxies

PROXIES = TrustedProxies(["10.0.0.0/8", "127.0.0.1/32", "fd00::/8"])


def headers(**values: str) -> list[tuple[bytes, bytes]]:
    return [
        (name.replace("_", "-").lower().encode(), value.encode()) for name, value in values.items()
    ]


@pytest.mark.parametrize(
    ("peer", "sent", "expected"),
    [
        # Direct clients: whatever they claim is ignored.
        ("198.51.100.1", headers(x_forwarded_for="1.1.1.1"), "198.51.100.1"),
        ("198.51.100.1", headers(x_real_ip="1.1.1.1"), "198.51.100.1"),
        # One trusted proxy in front.
        ("10.0.0.2", headers(x_forwarded_for="198.51.100.7"), "198.51.100.7"),
        ("127.0.0.1", headers(x_real_ip="198.51.100.9"), "198.51.100.9"),
        # A client-supplied prefix is skipped: the rightmost untrusted hop is the client.
        ("10.0.0.2", headers(x_forwarded_for="6.6.6.6, 198.51.100.7"), "198.51.100.7"),
        # Two proxies (a load balancer, then nginx).
        ("10.0.0.2", headers(x_forwarded_for="198.51.100.7, 10.0.0.9"), "198.51.100.7"),
        # Several headers are one list, in order.
        (
            "10.0.0.2",
            [(b"x-forwarded-for", b"6.6.6.6"), (b"x-forwarded-for", b"198.51.100.7")],
            "198.51.100.7",
        ),
        # Only proxies in the chain: the farthest one is the best we know.
        ("10.0.0.2", headers(x_forwarded_for="10.1.1.1, 10.0.0.9"), "10.1.1.1"),
        # Garbage stops the walk at the last address a trusted hop vouched for.
        ("10.0.0.2", headers(x_forwarded_for="198.51.100.7, not-an-ip"), "10.0.0.2"),
        ("10.0.0.2", headers(x_forwarded_for="junk, 198.51.100.7"), "198.51.100.7"),
        # Forms proxies write: ports, brackets, IPv6, IPv4-mapped IPv6.
        ("10.0.0.2", headers(x_forwarded_for="198.51.100.7:51234"), "198.51.100.7"),
        ("10.0.0.2", headers(x_forwarded_for="[2001:db8::5]:443"), "2001:db8::5"),
        ("fd00::1", headers(x_forwarded_for="2001:db8::5"), "2001:db8::5"),
        ("::ffff:10.0.0.2", headers(x_forwarded_for="198.51.100.7"), "198.51.100.7"),
        # No header from a trusted proxy: the proxy itself is the client (a health check).
        ("10.0.0.2", [], "10.0.0.2"),
        # Without a peer address (unit-test transports, unix sockets).
        (None, headers(x_forwarded_for="198.51.100.7"), "unknown"),
    ],
)
def test_resolution(peer: str | None, sent: list[tuple[bytes, bytes]], expected: str) -> None:
    assert PROXIES.resolve(peer, sent) == expected


def test_no_trusted_proxies_means_headers_are_never_believed() -> None:
    assert (
        TrustedProxies([]).resolve("127.0.0.1", headers(x_forwarded_for="1.2.3.4")) == "127.0.0.1"
    )
