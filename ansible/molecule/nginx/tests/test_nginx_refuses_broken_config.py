"""A broken config never reaches a running nginx: the role run again with a value nginx refuses
fails at the file's validate step, the installed file keeps its bytes, and the nginx that runs
(the same process) still serves HTTPS."""

import re

import pytest

from conftest import request, run_nginx_role
from ops import render
from ops.testing import hosts

pytestmark = pytest.mark.timeout(600)


@pytest.mark.parametrize(
    ("broken", "task", "refusal"),
    [
        # The site (app.conf.j2), checked in the harness; then the main file, checked with the site.
        ("nginx_client_max_body_size=not-a-size", "Render the site", '"client_max_body_size" directive invalid value'),
        ("nginx_worker_processes=lots", "Render nginx.conf", '"worker_processes" directive invalid value'),
    ],
)
def test_a_value_nginx_refuses_stops_the_role_before_the_file_is_replaced(
        host, variables, address, tmp_path, broken, task, refusal):
    conf_dir = variables["nginx_conf_dir"]
    installed = [output["dest"] for output in render.outputs(variables, ("nginx",))]
    before = {path: host.file(path).sha256sum for path in installed}
    pid = host.check_output("systemctl show nginx -p MainPID --value")

    result = run_nginx_role(tmp_path, "-e", broken)
    output_text = result.stdout + result.stderr  # ansible-core 2.19 prints a task's failure on stderr
    assert result.returncode == 2, output_text[-4000:]
    # The last task started is the one that failed, at its validate step (nginx -t).
    last_task = re.findall(r"^TASK \[nginx : (.*?)\]", result.stdout, re.MULTILINE)[-1]
    assert last_task.startswith(task), output_text[-4000:]
    assert "failed to validate" in output_text, output_text[-4000:]
    # nginx -t's own words (in the task's JSON result, quotes escaped).
    assert refusal in output_text.replace('\\"', '"'), output_text[-4000:]
    assert re.search(r"failed=1\b", result.stdout)

    assert {path: host.file(path).sha256sum for path in before} == before
    assert not host.file(f"{conf_dir}/.{hosts.APP_NAME}-candidate.conf").exists
    assert host.run("nginx -t").rc == 0
    assert host.service("nginx").is_running
    assert host.check_output("systemctl show nginx -p MainPID --value") == pid
    name = variables["app_server_names"][0]
    status, headers, _ = request(address, variables["nginx_https_port"], name, "/", tls=True)
    assert status == 502 and headers["x-content-type-options"] == "nosniff"
