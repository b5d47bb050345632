from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.kube.render import OVERLAYS, Rendered, build, scratch_tree


@pytest.fixture(scope="session")
def scratch_kubernetes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scratch_tree(tmp_path_factory.mktemp("k8s"))


@pytest.fixture(scope="session")
def rendered(scratch_kubernetes: Path) -> dict[str, Rendered]:
    """Every overlay, built once per run."""
    return {overlay: build(scratch_kubernetes, overlay) for overlay in OVERLAYS}


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest, rendered: dict[str, Rendered]) -> Rendered:
    built: Rendered = rendered[request.param]
    return built
