"""Render the templates into a test's own directory, ready for `nginx -t` and systemd-analyze."""

import subprocess
import sys

import pytest

from ops import render
from ops.testing.tools import require_tool
from ops.tools import APP_DIR

# The nginx variants a deployment can choose; every one must pass nginx -t and gixy.
NGINX_VARIANTS = {
    "tls": {},
    "plain": {"nginx_tls": False},
    "plain-behind-load-balancer": {"nginx_tls": False, "nginx_trusted_proxies": ["10.0.0.0/8", "192.168.0.0/16"]},
    "tls-any-host-3-daphne": {"nginx_reject_unknown_hosts": False, "daphne_instances": 3},
    "plain-any-host-no-reuseport": {"nginx_tls": False, "nginx_reject_unknown_hosts": False, "nginx_reuseport": False},
    # A cluster's load balancer: nginx alone, proxying to daphne and the HTTP server on web hosts.
    "plain-cluster-load-balancer": {
        "app_https": False,
        "nginx_serve_static": False,
        "nginx_daphne_servers": ["127.0.0.2:8001", "127.0.0.2:8002", "127.0.0.3:8001"],
        "nginx_http_servers": ["127.0.0.2:8000", "127.0.0.3:8000"],
    },
}


@pytest.fixture(scope="session")
def certificate(tmp_path_factory):
    """A throwaway self-signed certificate, so the TLS variant is checked with real files."""
    openssl = require_tool("openssl", "the TLS variant is checked with a real certificate")
    directory = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "2", "-subj", "/CN=example.com", "-keyout", directory / "key.pem", "-out", directory / "cert.pem"],
        check=True, capture_output=True,
    )
    return directory


@pytest.fixture
def render_nginx(tmp_path, certificate):
    """render_nginx(**overrides) -> path of a rendered nginx.conf whose paths all point into tmp_path."""

    def render_nginx(**overrides):
        (tmp_path / "tmp").mkdir(exist_ok=True)
        local = {
            "nginx_user": None,
            "nginx_pid_file": str(tmp_path / "nginx.pid"),
            "nginx_error_log": "stderr",
            "nginx_access_log": str(tmp_path / "access.log"),
            "nginx_site_conf": str(tmp_path / "{{ app_name }}.conf"),
            "nginx_temp_dir": str(tmp_path / "tmp"),
            "nginx_tls_certificate": str(certificate / "cert.pem"),
            "nginx_tls_certificate_key": str(certificate / "key.pem"),
        }
        render.render(render.variables_from(overrides={**local, **overrides}), tmp_path, ["nginx"])
        return tmp_path / "nginx.conf"

    return render_nginx


@pytest.fixture
def rendered_units(tmp_path):
    """The systemd units rendered with binaries that exist here (systemd-analyze verify checks them)."""
    variables = render.variables_from(overrides={"app_venv_dir": sys.prefix, "app_dir": str(APP_DIR)})
    render.render(variables, tmp_path, ["systemd"])
    return tmp_path
