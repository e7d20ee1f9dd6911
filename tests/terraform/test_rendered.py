"""What the core renders, checked by the tools that consume it: the user-data by
`cloud-init schema`, the inventories by ansible-inventory and `ansible-playbook
--syntax-check site.yml`, each beside a copy of its example inventory's group_vars (as
ansible/README.md has users do)."""

import json
import shutil

import pytest
import yaml

from ops.testing.tools import require_tool
from ops.tools import REPO_DIR

from .conftest import check, run

ANSIBLE_DIR = REPO_DIR / "ansible"
# rendered output -> the example inventory it must match in shape
INVENTORIES = {"single_inventory": "single-host", "cluster_inventory": "cluster"}


def test_cloud_init_schema(rendered, tmp_path):
    cloud_init = require_tool("cloud-init", "the rendered user-data is validated by `cloud-init schema`")
    user_data = tmp_path / "user-data"
    user_data.write_text(rendered["user_data"])
    result = check(run([cloud_init, "schema", "-c", str(user_data)], tmp_path, None))
    assert "Valid cloud-config" in result.stdout + result.stderr
    config = yaml.safe_load(rendered["user_data"])
    assert config["packages"] == ["python3"]
    assert [user["name"] for user in config["users"]] == ["admin"]


def write_inventory(tmp_path, rendered, output):
    example = ANSIBLE_DIR / "inventories" / INVENTORIES[output]
    directory = tmp_path / INVENTORIES[output]
    shutil.copytree(example / "group_vars", directory / "group_vars")
    (directory / "hosts.yml").write_text(rendered[output])
    return directory / "hosts.yml"


def shape(inventory):
    """{group: {host: sorted hostvar names}} of an inventory file's own YAML."""
    data = yaml.safe_load(inventory)["all"]
    top = data.get("hosts") or {}
    return {
        group: {host: sorted({**(top.get(host) or {}), **(hostvars or {})}) for host, hostvars in body["hosts"].items()}
        for group, body in data["children"].items()
    }


@pytest.mark.parametrize("output", INVENTORIES)
def test_inventory_has_the_example_shape(rendered, output):
    example = (ANSIBLE_DIR / "inventories" / INVENTORIES[output] / "hosts.yml").read_text()
    assert shape(rendered[output]) == shape(example)
    assert yaml.safe_load(rendered[output])["all"].get("vars") == yaml.safe_load(example)["all"].get("vars")


@pytest.mark.parametrize("output", INVENTORIES)
def test_ansible_inventory_list(rendered, output, tmp_path, ansible_env):
    hosts_file = write_inventory(tmp_path, rendered, output)
    result = check(run(["ansible-inventory", "-i", str(hosts_file), "--list"], ANSIBLE_DIR, ansible_env))
    listed = json.loads(result.stdout)
    hostvars = listed["_meta"]["hostvars"]
    if output == "single_inventory":
        assert all(listed[group]["hosts"] == ["app1"] for group in ("lb", "web", "data"))
        assert hostvars["app1"]["ansible_host"] == "192.0.2.10"
        assert hostvars["app1"]["ansible_user"] == "admin"
    else:
        assert listed["lb"]["hosts"] == ["lb1"]
        assert listed["web"]["hosts"] == ["web1", "web2"]
        assert listed["data"]["hosts"] == ["data1"]
        expected = {"lb1": ("192.0.2.10", "10.0.1.10"), "web1": ("192.0.2.11", "10.0.1.100"),
                    "web2": ("192.0.2.12", "10.0.1.101"), "data1": ("192.0.2.13", "10.0.1.20")}
        for host, (public, private) in expected.items():
            assert (hostvars[host]["ansible_host"], hostvars[host]["private_address"]) == (public, private)
            assert hostvars[host]["ansible_user"] == "admin"
        # the copied group_vars apply: the web hosts listen where the rules open
        assert hostvars["web1"]["daphne_tcp_port"] == 8001


@pytest.mark.parametrize("output", INVENTORIES)
def test_playbook_syntax_check(rendered, output, tmp_path, ansible_env):
    hosts_file = write_inventory(tmp_path, rendered, output)
    result = check(run(["ansible-playbook", "--syntax-check", "site.yml", "-i", str(hosts_file)],
                       ANSIBLE_DIR, ansible_env))
    assert "playbook: site.yml" in result.stdout
