"""Render docker/nginx/nginx.conf for a run on this machine.

The production file names compose services (`app`, `frontend`) and container paths. To check it
with `nginx -t` and to run it in tests, a copy is rendered with every upstream host mapped to
loopback ports, the listeners moved to high loopback ports and all paths moved into a temporary
prefix. Every rewrite must match the real file, so a change there that the rendering no longer
understands fails loudly instead of silently testing something else.

Command line (used by .ci/deploy-checks.sh):
    python tests/deploy/nginx_render.py OUT_DIR
writes OUT_DIR/nginx.conf plus a throwaway self-signed certificate and prints the config path.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
NGINX_CONF = REPO_ROOT / "docker" / "nginx" / "nginx.conf"


@dataclass
class RenderPlan:
    prefix: Path
    http_port: int
    https_port: int
    tls_dir: Path
    upstreams: Mapping[str, Sequence[int]] = field(default_factory=dict)


def _sub_once(pattern: str, repl: str, text: str, *, count: int = 0) -> str:
    new, n = re.subn(pattern, repl, text, count=count, flags=re.MULTILINE)
    if n == 0:
        raise ValueError(f"nginx.conf no longer contains {pattern!r}; update the renderer")
    return new


def render(plan: RenderPlan, source: str | None = None) -> str:
    text = NGINX_CONF.read_text() if source is None else source
    prefix = plan.prefix
    for sub in ("logs", "temp", "acme"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)

    for host, ports in plan.upstreams.items():
        if not ports:
            raise ValueError(f"upstream {host} needs at least one port")
        pattern = rf"^(\s*)server {re.escape(host)}:\d+([^;]*);"

        def expand(m: re.Match[str], ports: Sequence[int] = ports) -> str:
            indent, params = m.group(1), m.group(2)
            return "\n".join(f"{indent}server 127.0.0.1:{p}{params};" for p in ports)

        text, n = re.subn(pattern, expand, text, flags=re.MULTILINE)
        if n == 0:
            raise ValueError(f"nginx.conf has no upstream server {host!r}; update the renderer")
    leftover = re.findall(r"^\s*server ([a-z][\w-]*):\d+", text, flags=re.MULTILINE)
    if leftover:
        raise ValueError(f"upstream hosts without a loopback mapping: {sorted(set(leftover))}")

    text = _sub_once(r"listen 80 ", f"listen 127.0.0.1:{plan.http_port} ", text)
    text = _sub_once(r"listen 443 ", f"listen 127.0.0.1:{plan.https_port} ", text)
    text = _sub_once(r"/etc/nginx/tls/", f"{plan.tls_dir}/", text)
    text = _sub_once(r"^error_log \S+", f"error_log {prefix}/logs/error.log", text)
    text = _sub_once(r"^pid \S+;", f"pid {prefix}/nginx.pid;", text)
    text = _sub_once(
        r"access_log /var/log/nginx/access.log", f"access_log {prefix}/logs/access.log", text
    )
    text = _sub_once(r"root /var/www/acme;", f"root {prefix}/acme;", text)
    temp_paths = "".join(
        f"    {kind}_temp_path {prefix}/temp/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = _sub_once(r"^http \{\n", "http {\n" + temp_paths, text, count=1)
    return text


def make_self_signed(tls_dir: Path, common_name: str = "localhost") -> None:
    tls_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={common_name}",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(tls_dir / "privkey.pem"),
            "-out",
            str(tls_dir / "fullchain.pem"),
        ],
        check=True,
        capture_output=True,
    )


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[0]).resolve()
    make_self_signed(out / "tls")
    plan = RenderPlan(
        prefix=out,
        http_port=18080,
        https_port=18443,
        tls_dir=out / "tls",
        upstreams={"app": [18001, 18002, 18003], "frontend": [18300]},
    )
    conf = out / "nginx.conf"
    conf.write_text(render(plan))
    print(conf)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
