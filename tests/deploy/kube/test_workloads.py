"""The promises of docs/kubernetes.md, held on the rendered YAML of every overlay: pods that run as
the images' non-root user on a read-only root with only their writable paths mounted, probes on
the paths the app serves, limits, pinned images, graceful shutdown that fits uvicorn's, and the
ops jobs as the ops CLI names them."""

from __future__ import annotations

import re

from ops.cli import build_parser
from tests.deploy.kube.render import ROOT, Rendered
from tests.deploy.kube.workloads import container, containers, environment, pod_spec, workloads

DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
FRONTEND_DOCKERFILE = (ROOT / "frontend" / "Dockerfile").read_text(encoding="utf-8")


def _image_uid(dockerfile: str) -> int:
    match = re.search(r"^USER (\d+):(\d+)$", dockerfile, re.MULTILINE)
    assert match, "the image runs as a numeric user"
    return int(match.group(1))


def _uvicorn_option(name: str) -> int:
    """An option of the image's CMD, e.g. --timeout-graceful-shutdown."""
    command = DOCKERFILE[DOCKERFILE.index("\nCMD [") :]
    match = re.search(rf'"{name}", "(\d+)"', command)
    assert match, name
    return int(match.group(1))


def test_every_container_is_unprivileged_on_a_read_only_root(overlay: Rendered) -> None:
    uids = {"koiki-frontend": _image_uid(FRONTEND_DOCKERFILE)}
    for workload, spec, item in containers(overlay):
        where = f"{overlay.overlay} {workload['metadata']['name']}/{item['name']}"
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, where
        assert pod["runAsUser"] == uids.get(workload["metadata"]["name"], _image_uid(DOCKERFILE))
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert spec["automountServiceAccountToken"] is False, where
        security = item["securityContext"]
        assert security["readOnlyRootFilesystem"] is True, where
        assert security["allowPrivilegeEscalation"] is False, where
        assert security["capabilities"]["drop"] == ["ALL"], where
        assert "add" not in security["capabilities"], where
        # Python, pg_dump and Node write temporary files: /tmp is the pod's own, bounded.
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in item["volumeMounts"]}
        temporary = mounts.get("/tmp")  # noqa: S108 - the mount checked, no file made there
        assert temporary, where
        assert volumes[temporary]["emptyDir"].get("sizeLimit"), where


def test_every_container_has_requests_and_limits(overlay: Rendered) -> None:
    units = {"m": 1e-3, "Mi": 2**20, "Gi": 2**30, "": 1}

    def quantity(value: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)(m|Mi|Gi|)", str(value)).groups()  # type: ignore[union-attr]
        return float(number) * units[unit]

    for workload, _spec, item in containers(overlay):
        where = f"{overlay.overlay} {workload['metadata']['name']}/{item['name']}"
        resources = item["resources"]
        for resource in ("cpu", "memory"):
            request = quantity(resources["requests"][resource])
            limit = quantity(resources["limits"][resource])
            assert 0 < request <= limit, (where, resource)


def test_the_guides_sizes_hold_in_production(rendered: dict[str, Rendered]) -> None:
    """docker-compose.prod.yml and the deployment guide: 0.5-1 CPU and 512 MiB-1 GiB per API
    replica, at least 3 of them; 2 frontend replicas of at most 0.5 CPU and 512 MiB."""
    production = rendered["production"]
    api = container(production, "Deployment", "koiki-api", "api")["resources"]
    assert api == {
        "requests": {"cpu": "500m", "memory": "512Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }
    frontend = container(production, "Deployment", "koiki-frontend", "frontend")["resources"]
    assert frontend["limits"] == {"cpu": "500m", "memory": "512Mi"}
    assert production.one("HorizontalPodAutoscaler", "koiki-api")["spec"]["minReplicas"] == 3
    assert production.one("HorizontalPodAutoscaler", "koiki-frontend")["spec"]["minReplicas"] == 2


def test_images_are_pinned_releases_from_a_registry(overlay: Rendered) -> None:
    for workload, _spec, item in containers(overlay):
        image = item["image"]
        repository, _, tag = image.rpartition(":")
        assert "/" in repository, (overlay.overlay, workload["metadata"]["name"], image)
        assert tag, image
        assert tag != "latest", image
    for document in (
        overlay.all("Cluster") + overlay.all("RedisReplication") + overlay.all("RedisSentinel")
    ):
        spec = document["spec"]
        image = spec.get("imageName") or spec["kubernetesConfig"]["image"]
        assert re.search(r":v?\d+\.\d+", image), image


def test_long_running_containers_have_all_three_probes(overlay: Rendered) -> None:
    for deployment in overlay.all("Deployment"):
        for item in pod_spec(deployment)["containers"]:
            ports = {port["name"] for port in item["ports"]}
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                assert item[probe]["httpGet"]["port"] in ports, (
                    deployment["metadata"]["name"],
                    probe,
                )
                assert item[probe]["timeoutSeconds"] >= 1


def test_the_api_probes_use_the_apps_health_paths(overlay: Rendered) -> None:
    api = container(overlay, "Deployment", "koiki-api", "api")
    assert api["livenessProbe"]["httpGet"]["path"] == "/health"
    assert api["startupProbe"]["httpGet"]["path"] == "/health"
    assert api["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert api["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    assert '"--port", "8000"' in DOCKERFILE
    # Readiness may take every check's timeout before it answers (database, then migrations).
    env = environment(overlay, api)
    assert api["readinessProbe"]["timeoutSeconds"] > 2 * float(env["HEALTH_CHECK_TIMEOUT_SECONDS"])
    frontend = container(overlay, "Deployment", "koiki-frontend", "frontend")
    assert {
        frontend[p]["httpGet"]["path"] for p in ("startupProbe", "livenessProbe", "readinessProbe")
    } == {"/api/health"}
    assert "http://127.0.0.1:3000/api/health" in FRONTEND_DOCKERFILE


def test_shutdown_fits_uvicorns_graceful_period(overlay: Rendered) -> None:
    """preStop keeps the pod serving while the ingress drops its endpoint; then uvicorn gets its
    whole --timeout-graceful-shutdown before the kubelet would kill it."""
    spec = pod_spec(overlay.one("Deployment", "koiki-api"))
    api = container(overlay, "Deployment", "koiki-api", "api")
    drain = api["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert drain >= 5
    assert (
        drain + _uvicorn_option("--timeout-graceful-shutdown") + 5
        <= spec["terminationGracePeriodSeconds"]
    )
    # ingress-nginx keeps upstream connections 60 s by default (upstream-keepalive-timeout);
    # uvicorn must hold them longer, or a reused connection fails a POST with 502.
    assert _uvicorn_option("--timeout-keep-alive") > 60
    frontend_spec = pod_spec(overlay.one("Deployment", "koiki-frontend"))
    frontend = container(overlay, "Deployment", "koiki-frontend", "frontend")
    assert (
        frontend["lifecycle"]["preStop"]["sleep"]["seconds"]
        < frontend_spec["terminationGracePeriodSeconds"]
    )


def test_migrations_run_once_per_pod_before_the_server_under_the_lock(overlay: Rendered) -> None:
    spec = pod_spec(overlay.one("Deployment", "koiki-api"))
    assert [c["name"] for c in spec["initContainers"]] == ["migrate"]
    migrate = environment(overlay, spec["initContainers"][0])
    server = environment(overlay, spec["containers"][0])
    # The entrypoint's tasks (wait-for-db, `ops migrate` under the advisory lock, the first
    # superuser) in the init container, for its command `true`; never in the server.
    assert spec["initContainers"][0]["args"] == ["true"]
    assert migrate["KOIKI_STARTUP_TASKS"] == "always"
    assert migrate["RUN_MIGRATIONS"] == "true"
    assert server["KOIKI_STARTUP_TASKS"] == "never"
    entrypoint = (ROOT / "docker-entrypoint.sh").read_text(encoding="utf-8")
    assert '"$PYTHON" -m ops migrate' in entrypoint
    assert "create-superuser --if-configured" in entrypoint
    # Both see the same database, and the superuser comes from the Secret.
    assert migrate["DATABASE_URL"] == server["DATABASE_URL"]
    secret_keys = set(overlay.one("Secret", "koiki-secrets")["data"])
    assert {"FIRST_SUPERUSER_EMAIL", "FIRST_SUPERUSER_PASSWORD"} <= secret_keys
    # The rollout waits for a migration another pod holds the lock for (ops migrate: 600 s).
    assert overlay.one("Deployment", "koiki-api")["spec"]["progressDeadlineSeconds"] > 600


def test_the_ops_cronjobs_run_existing_commands_one_at_a_time(overlay: Rendered) -> None:
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    jobs = {job["metadata"]["name"]: job for job in overlay.all("CronJob")}
    assert set(jobs) == {"koiki-backup", "koiki-purge-auth-state"}
    for name, job in jobs.items():
        spec = job["spec"]
        assert spec["concurrencyPolicy"] == "Forbid", name
        assert 1 <= spec["successfulJobsHistoryLimit"] <= 5
        assert 1 <= spec["failedJobsHistoryLimit"] <= 5
        assert spec["jobTemplate"]["spec"]["activeDeadlineSeconds"] > 0
        args = container(overlay, "CronJob", name, "ops")["args"]
        assert args[:3] == ["python", "-m", "ops"], args
        assert args[3] in commands, args
        assert name == f"koiki-{args[3]}"
    backup = container(overlay, "CronJob", "koiki-backup", "ops")
    mounts = {m["mountPath"]: m["name"] for m in backup["volumeMounts"]}
    backup_dir = environment(overlay, backup)["BACKUP_DIR"]
    volumes = {v["name"]: v for v in pod_spec(jobs["koiki-backup"])["volumes"]}
    claim = volumes[mounts[backup_dir]]["persistentVolumeClaim"]["claimName"]
    assert overlay.one("PersistentVolumeClaim", claim)["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_workloads_never_get_a_service_account_token_or_service_links(overlay: Rendered) -> None:
    for workload in workloads(overlay):
        spec = pod_spec(workload)
        assert spec["enableServiceLinks"] is False, workload["metadata"]["name"]
        account = overlay.one("ServiceAccount", spec["serviceAccountName"])
        assert account["automountServiceAccountToken"] is False
