"""docker-py (Debian's python3-docker 5.0.x) against the private Berth suite that
tests/clients/with-suite.ts starts; DOCKER_HOST points at it."""
import os
import uuid

import docker
import pytest

BUSYBOX = "busybox:latest"
NOENV = "berth-clients/noenv:latest"
HTTPD = "berth-clients/httpd:latest"
MANY = "berth-fixtures/many:latest"


@pytest.fixture(scope="session")
def client():
    assert os.environ.get("DOCKER_HOST", "").startswith("unix:///tmp/"), "run through tests/clients/with-suite.ts"
    c = docker.from_env(timeout=60)
    yield c
    c.close()


@pytest.fixture
def name():
    return "py-" + uuid.uuid4().hex[:10]


@pytest.fixture
def cleanup(client):
    """Containers, networks and volumes a test made; removed whatever the outcome."""
    made = {"containers": [], "networks": [], "volumes": [], "images": []}
    yield made
    for c in made["containers"]:
        try:
            client.api.remove_container(c, force=True, v=True)
        except docker.errors.NotFound:
            pass
    for n in made["networks"]:
        try:
            client.api.remove_network(n)
        except docker.errors.NotFound:
            pass
    for v in made["volumes"]:
        try:
            client.api.remove_volume(v, force=True)
        except docker.errors.NotFound:
            pass
    for i in made["images"]:
        try:
            client.api.remove_image(i, force=True)
        except docker.errors.NotFound:
            pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """A hung call fails its test with a clear message instead of stalling the stage."""
    import signal

    def expired(signum, frame):
        raise TimeoutError("test took longer than 90s (a hung stream?)")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(90)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
