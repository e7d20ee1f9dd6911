"""ops.render and Ansible's template module write the same bytes from the same files.

Ansible (ansible-core 2.19) loads ops/defaults.yml and a vars file with include_vars, loops
over ops/outputs.yml as the roles will, and renders every template; ops.render renders the
same set. Every file, every install path and every resolved variable must be identical.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ops import render
from ops.tools import REPO_DIR

pytestmark = pytest.mark.process  # runs commands: not in `make unit`

# Long enough for the renderer's secret rules; the Redis one needs URL-encoding.
SECRETS = {"app_secret_key": "parity-test-key-" + "0123456789" * 4, "app_redis_password": "r/p@ss-parity-test",
           "app_database_password": "db-pw-parity-test"}

VARIABLE_SETS = {
    "defaults": {},
    "renamed-cluster-web-host-on-tcp": {
        "app_name": "chat",
        "app_home": "/opt/{{ app_name }}",
        "app_https": False,
        "app_server_names": ["chat.example.org", "10.0.1.11"],
        "app_after_units": [],
        "app_extra_env": {"LOG_LEVEL": "DEBUG", "WS_ALLOW_QUERY_TOKEN": "false"},
        "daphne_instances": 3,
        "daphne_tcp_port": 8001,
        "daphne_tcp_address": "0.0.0.0",
        "http_tcp_port": 8000,
        "http_tcp_address": "::",
        "nginx_user": None,
        "nginx_temp_dir": "/var/tmp/nginx",
        "nginx_http_port": 8080,
    },
    "load-balancer-behind-tls": {
        "nginx_tls": False,
        "nginx_trusted_proxies": ["10.0.0.0/8"],
        "nginx_daphne_servers": ["10.0.1.11:8001", "10.0.1.12:8001"],
        "nginx_http_servers": ["10.0.1.11:8000"],
        "nginx_reject_unknown_hosts": False,
    },
}

PLAYBOOK = """
- name: Render every output the way the roles do
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Load the defaults, then the vars file
      ansible.builtin.include_vars:
        file: "{{ item }}"
      loop: ["{{ repo }}/ops/defaults.yml", "{{ vars_file }}"]
    - name: Load the list of outputs
      ansible.builtin.include_vars:
        file: "{{ repo }}/ops/outputs.yml"
        name: manifest
    - name: Render each template
      ansible.builtin.template:
        src: "{{ repo }}/{{ item.template }}"
        dest: "{{ out }}/{{ item.name }}"
        mode: "0644"
      loop: "{{ manifest.outputs }}"
    - name: Write the resolved install paths and variables
      ansible.builtin.copy:
        dest: "{{ out }}/../resolved.json"
        content: "{{ {'dests': manifest.outputs | map(attribute='dest') | list,
                      'variables': dict(names | zip(query('ansible.builtin.vars', *names)))} | to_json }}"
        mode: "0644"
"""


def ansible_render(tmp_path, variables):
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(PLAYBOOK)
    vars_file = tmp_path / "vars.yml"
    vars_file.write_text(yaml.safe_dump(variables))
    out = tmp_path / "ansible"
    out.mkdir()
    extra = {"repo": str(REPO_DIR), "vars_file": str(vars_file), "out": str(out),
             "names": sorted(render.DEFAULTS), "ansible_python_interpreter": sys.executable}
    env = {**os.environ, "ANSIBLE_HOME": str(tmp_path / "ansible-home"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_LOCALHOST_WARNING": "false", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false"}
    result = subprocess.run(
        [str(Path(sys.prefix) / "bin" / "ansible-playbook"), "-i", "localhost,", "-c", "local",
         "-e", json.dumps(extra), str(playbook)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return out, json.loads((tmp_path / "resolved.json").read_text())


@pytest.mark.parametrize("name", VARIABLE_SETS)
def test_ansible_writes_the_same_bytes(tmp_path, name):
    variables = {**SECRETS, **VARIABLE_SETS[name]}
    ansible_out, ansible_resolved = ansible_render(tmp_path, variables)

    resolved = render.variables_from(overrides=variables)
    ours = render.render(resolved, tmp_path / "ops")
    assert sorted(ours) == sorted(p.name for p in ansible_out.iterdir())
    for file_name, path in ours.items():
        assert path.read_bytes() == (ansible_out / file_name).read_bytes(), file_name
    assert [output["dest"] for output in render.outputs(resolved)] == ansible_resolved["dests"]
    assert {key: resolved[key] for key in render.DEFAULTS} == ansible_resolved["variables"]
