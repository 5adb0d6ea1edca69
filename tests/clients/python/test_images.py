import io

import docker
import pytest

from conftest import BUSYBOX, MANY, NOENV


def test_list_and_inspect(client):
    tags = {t for i in client.images.list() for t in i.tags}
    assert {BUSYBOX, MANY, NOENV} <= tags
    img = client.images.get(BUSYBOX)
    assert img.id.startswith("sha256:")
    a = img.attrs
    for field in ("Id", "RepoTags", "RepoDigests", "Parent", "Comment", "Created", "Container", "ContainerConfig",
                  "DockerVersion", "Author", "Config", "Architecture", "Os", "Size", "VirtualSize", "GraphDriver",
                  "RootFS", "Metadata"):
        assert field in a, field
    assert a["Config"]["Cmd"] == ["sh"]
    assert len(client.images.get(MANY).attrs["RootFS"]["Layers"]) == 131


def test_imported_image_has_no_env(client):
    cfg = client.images.get(NOENV).attrs["Config"]
    assert not cfg.get("Env")


def test_tag_and_remove(client):
    img = client.images.get(BUSYBOX)
    assert img.tag("py-tagged/busybox", "v1")
    assert "py-tagged/busybox:v1" in client.images.get("py-tagged/busybox:v1").tags
    client.images.remove("py-tagged/busybox:v1")
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("py-tagged/busybox:v1")
    assert client.images.get(BUSYBOX).id == img.id


def test_save_and_load_round_trip(client):
    data = b"".join(client.images.get(BUSYBOX).save(named=True))
    client.images.get(BUSYBOX).tag("py-saved/busybox", "x")
    client.images.remove("py-saved/busybox:x")
    loaded = client.images.load(data)
    assert [i.id for i in loaded] == [client.images.get(BUSYBOX).id]


def test_load_garbage_is_client_error(client):
    with pytest.raises(docker.errors.APIError) as e:
        client.images.load(io.BytesIO(b"not a tarball at all" * 100).getvalue())
    assert 400 <= e.value.status_code < 500


def test_remove_missing_image(client):
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.remove("berth-clients/absent:nope")
