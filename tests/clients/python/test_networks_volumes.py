import docker
import pytest

from conftest import BUSYBOX


def test_network_create_connect_resolve(client, cleanup, name):
    net = client.networks.create(name, driver="bridge", labels={"suite": "py"})
    cleanup["networks"].append(net.id)
    a = net.attrs
    for field in ("Name", "Id", "Created", "Scope", "Driver", "EnableIPv6", "IPAM", "Internal", "Attachable",
                  "Ingress", "ConfigFrom", "ConfigOnly", "Containers", "Options", "Labels"):
        assert field in a, field
    srv = client.containers.run(BUSYBOX, ["sleep", "300"], detach=True, name=name + "-srv", network=name)
    cleanup["containers"].append(srv.id)
    out = client.containers.run(BUSYBOX, ["ping", "-c", "1", "-W", "5", name + "-srv"], remove=True, network=name)
    assert b"1 packets received" in out
    other = client.containers.run(BUSYBOX, ["sleep", "300"], detach=True, name=name + "-o")
    cleanup["containers"].append(other.id)
    net.connect(other)
    net.reload()
    assert other.id in net.attrs["Containers"]
    net.disconnect(other)
    assert [n.id for n in client.networks.list(names=[name])] == [net.id]


def test_many_networks_do_not_run_dry(client, cleanup, name):
    for i in range(40):
        n = client.networks.create(f"{name}-{i}")
        n.remove()


def test_ipv6_network_is_clear_error(client, name):
    with pytest.raises(docker.errors.APIError) as e:
        client.networks.create(name, enable_ipv6=True,
                               ipam=docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet="fd00:1234::/64")]))
    assert e.value.status_code == 400


def test_network_remove_missing(client):
    with pytest.raises(docker.errors.NotFound):
        client.networks.get("py-absent-net")


def test_volume_lifecycle(client, cleanup, name):
    v = client.volumes.create(name, labels={"suite": "py"})
    cleanup["volumes"].append(v.id)
    assert v.attrs["Driver"] == "local" and v.attrs["Labels"] == {"suite": "py"}
    client.containers.run(BUSYBOX, ["sh", "-c", "echo kept > /v/f"], remove=True, volumes={name: {"bind": "/v", "mode": "rw"}})
    out = client.containers.run(BUSYBOX, ["cat", "/v/f"], remove=True, volumes={name: {"bind": "/v", "mode": "ro"}})
    assert out == b"kept\n"
    assert name in [x.name for x in client.volumes.list(filters={"label": "suite=py"})]
    v.remove()
    with pytest.raises(docker.errors.NotFound):
        client.volumes.get(name)


def test_system_endpoints(client):
    assert client.ping()
    assert client.version()["ApiVersion"]
    assert "Containers" in client.info()
    assert client.plugins.list() == []
    df = client.df()
    assert "Images" in df and "Containers" in df and "Volumes" in df
