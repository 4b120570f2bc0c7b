"""docker-compose.yml cannot run here (no Docker engine), so its wiring is checked as data."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.helpers import REPO_ROOT

SERVICES = {"postgres", "redis", "web", "worker", "vllm"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_services_and_images(compose):
    services = compose["services"]
    assert set(services) == SERVICES
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["vllm"]["image"].startswith("vllm/vllm-openai:")
    # Web and worker run one image, built from the one Dockerfile.
    assert services["web"]["build"] == "."
    assert services["worker"]["image"] == services["web"]["image"]
    assert (REPO_ROOT / "Dockerfile").is_file()


def test_every_service_has_a_healthcheck_and_waits_for_healthy_dependencies(compose):
    for name, service in compose["services"].items():
        assert "test" in service["healthcheck"], name
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in SERVICES
            assert condition == {"condition": "service_healthy"}, (name, dependency)
    assert set(compose["services"]["web"]["depends_on"]) >= {"postgres", "redis"}
    assert set(compose["services"]["worker"]["depends_on"]) >= {"postgres", "redis"}


def test_vllm_gets_a_gpu_and_its_model_from_the_environment(compose):
    vllm = compose["services"]["vllm"]
    devices = vllm["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert "--model" in vllm["command"]
    model_arg = vllm["command"][vllm["command"].index("--model") + 1]
    assert model_arg.startswith("${VLLM_MODEL")
    assert any("/health" in part for part in vllm["healthcheck"]["test"])


def test_named_volumes_hold_all_state(compose):
    declared = set(compose["volumes"])
    used = {
        volume.split(":")[0]
        for service in compose["services"].values()
        for volume in service.get("volumes", [])
    }
    assert used == declared
    web_data = compose["services"]["web"]["volumes"]
    assert web_data == compose["services"]["worker"]["volumes"]  # one shared data dir


def _host_of(url: str) -> str:
    return re.match(r"^\w+://(?:[^@/]*@)?([^:/]+)", url).group(1)


def test_web_and_worker_are_wired_to_the_other_services(compose):
    for name in ("web", "worker"):
        env = compose["services"][name]["environment"]
        assert _host_of(env["DATABASE_URL"]) == "postgres"
        assert _host_of(env["REDIS_URL"]) == "redis"
        assert _host_of(env["VLLM_BASE_URL"]) == "vllm"
        assert env["CITEWISE_ENV"] == "production"
        assert env["CITEWISE_DATA_DIR"] == "/data"
        # Variables the settings read, under the names they read them.
        assert set(env) >= {"CITEWISE_SECRET_KEY", "VLLM_MODEL", "ALLOWED_HOSTS"}
    database = compose["services"]["postgres"]["environment"]
    web_database_url = compose["services"]["web"]["environment"]["DATABASE_URL"]
    assert web_database_url.startswith(f"postgres://{database['POSTGRES_USER']}:")
    assert web_database_url.rsplit("/", 1)[1] == database["POSTGRES_DB"]


def test_the_image_holds_every_package_and_the_demo_documents():
    """Every top-level package pyproject installs is copied into the image (a missing one
    fails only when the container starts), and docs/, which load_demo ingests."""
    import tomllib

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = project["tool"]["setuptools"]["packages"]["find"]["include"]
    copied = set(re.findall(r"^COPY (\S+) ", (REPO_ROOT / "Dockerfile").read_text(), re.M))
    for package in (p.rstrip("*") for p in packages):
        folder = "platform" if package == "citewise" else package
        assert folder in copied, package
    assert "docs" in copied


# --- docker-compose.scale.yml: the multi-node override (docs/scaling.md) ---------------

CITEWISE_SERVICES = {"web", "web-2", "worker", "worker-ingest", "worker-ingest-2"}


@pytest.fixture(scope="module")
def scale() -> dict:
    return yaml.safe_load((REPO_ROOT / "docker-compose.scale.yml").read_text(encoding="utf-8"))


def test_the_scale_files_settings_are_the_base_files_plus_shared_stores(compose, scale):
    # YAML anchors do not cross files: the override repeats the base's settings.
    base, repeated = compose["x-citewise-env"], scale["x-citewise-env"]
    assert {name: repeated[name] for name in base} == base
    assert set(repeated) - set(base) == set(scale["x-scale-env"])


def test_every_node_has_its_own_data_directory_and_the_shared_stores(compose, scale):
    services = scale["services"]
    assert set(services) >= CITEWISE_SERVICES
    data_volumes = []
    for name in CITEWISE_SERVICES:
        env = services[name]["environment"]
        assert env["CITEWISE_ORIGINALS_STORAGE"] == "s3", name
        assert _host_of(env["CITEWISE_S3_ENDPOINT_URL"]) == "objects", name
        assert env["CITEWISE_VECTOR_STORE"] == "milvus:http://milvus:19530", name
        (volume,) = services[name]["volumes"]
        assert volume.endswith(":/data"), name
        data_volumes.append(volume.split(":")[0])
    assert len(set(data_volumes)) == len(CITEWISE_SERVICES)
    assert set(data_volumes) <= set(scale["volumes"])


def test_queues_apart_one_beat_and_every_web_process_balanced(scale):
    services = scale["services"]
    commands = {name: services[name]["command"] for name in CITEWISE_SERVICES - {"web"}}
    assert [name for name, command in commands.items() if "--beat" in command] == ["worker"]
    assert "--queues default " in commands["worker"]
    for name in ("worker-ingest", "worker-ingest-2"):
        assert "--queues ingest " in commands[name]
    nginx = (REPO_ROOT / "deploy" / "scale" / "nginx.conf").read_text()
    assert set(re.findall(r"server (\S+):8000", nginx)) == {"web", "web-2"}
    assert set(services["loadbalancer"]["depends_on"]) == {"web", "web-2"}
    assert services["milvus"]["image"].startswith("milvusdb/milvus:")
