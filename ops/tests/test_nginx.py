"""The rendered nginx config: nginx itself accepts every variant, gixy finds nothing, and the
directives that prevent the classic WebSocket outages are where they must be."""

import json
import re
import subprocess
import sys

import crossplane
import pytest

from ops import render
from ops.testing.tools import require_tool
from ops.tests.conftest import NGINX_VARIANTS
from ops.units import parse_unit


def nginx_t(conf):
    nginx = require_tool("nginx", "rendered configs are checked by nginx -t")
    return subprocess.run([nginx, "-t", "-c", str(conf), "-e", "stderr"], capture_output=True, text=True)


def gixy(conf):
    require_tool("nginx", "gixy reads nginx's own mime.types include")
    result = subprocess.run([sys.prefix + "/bin/gixy", "-f", "json", str(conf)], capture_output=True, text=True)
    return json.loads(result.stdout)


@pytest.mark.parametrize("variant", NGINX_VARIANTS)
@pytest.mark.process
def test_nginx_accepts_every_variant(render_nginx, variant):
    result = nginx_t(render_nginx(**NGINX_VARIANTS[variant]))
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@pytest.mark.parametrize("variant", NGINX_VARIANTS)
@pytest.mark.process
def test_gixy_finds_nothing_in_any_variant(render_nginx, variant):
    assert gixy(render_nginx(**NGINX_VARIANTS[variant])) == []


@pytest.mark.process
def test_gixy_really_reads_the_rendered_files(render_nginx):
    """Negative control: without server_tokens off, gixy reports the version disclosure."""
    conf = render_nginx()
    conf.write_text(conf.read_text().replace("server_tokens off;", ""))
    assert [finding["plugin"] for finding in gixy(conf)] == ["version_disclosure"]


@pytest.mark.process
def test_nginx_rejects_a_broken_render(render_nginx):
    """Negative control for nginx -t: an unknown upstream in the site file fails the check."""
    conf = render_nginx()
    site = conf.parent / "channels-stack.conf"
    site.write_text(site.read_text().replace("proxy_pass http://channels-stack_http;", "proxy_pass http://nowhere;", 1))
    result = nginx_t(conf)
    assert result.returncode != 0 and "host not found in upstream" in result.stderr


def parsed(conf):
    """{directive: [args, ...]} of the whole config (includes followed), and the locations."""
    payload = crossplane.parse(str(conf), catch_errors=False)
    directives, locations = {}, {}

    def walk(block, location=None):
        for item in block:
            directives.setdefault(item["directive"], []).append(item["args"])
            if location is not None:
                locations[location].setdefault(item["directive"], []).append(item["args"])
            if "block" in item:
                inner = location
                if item["directive"] == "location":
                    inner = " ".join(item["args"])
                    locations.setdefault(inner, {})
                walk(item["block"], inner)

    for config in payload["config"]:
        walk(config["parsed"])
    return directives, locations


@pytest.mark.process
def test_websocket_location_passes_the_upgrade_on(render_nginx):
    _, locations = parsed(render_nginx())
    ws = locations["/ws/"]
    assert ws["proxy_http_version"] == [["1.1"]]  # nginx 1.22 defaults to 1.0: no Upgrade possible
    headers = {args[0]: args[1] for args in ws["proxy_set_header"]}
    assert headers["Upgrade"] == "$http_upgrade"
    assert headers["Connection"] == "$connection_upgrade"
    assert headers["X-Forwarded-For"] == "$remote_addr"  # overwritten: see the template
    assert headers["Host"] == "$host"
    assert ws["proxy_pass"] == [["http://channels-stack_daphne"]]
    assert "limit_conn" in ws and "limit_req" in ws
    assert locations["/static/"]["alias"]
    assert "limit_req" in locations["= /api/auth/login/"]


@pytest.mark.process
def test_daphne_upstream_balances_on_open_connections(render_nginx):
    conf = render_nginx(daphne_instances=3)
    directives, _ = parsed(conf)
    assert directives["least_conn"] == [[]]
    daphnes = [f"unix:/run/channels-stack/daphne-{n}.sock" for n in (1, 2, 3)]
    assert upstream_servers(conf, "channels-stack_daphne") == daphnes


@pytest.mark.process
def test_http_upstream_falls_back_on_daphne(render_nginx):
    """While the HTTP server restarts (a deploy), daphne answers HTTP: no 502."""
    conf = render_nginx(daphne_instances=2)
    payload = crossplane.parse(str(conf), catch_errors=False)
    (upstream,) = [
        item for config in payload["config"] for item in config["parsed"]
        if item["directive"] == "upstream" and item["args"] == ["channels-stack_http"]
    ]
    servers = [item["args"] for item in upstream["block"] if item["directive"] == "server"]
    assert servers == [
        ["unix:/run/channels-stack/http.sock", "max_fails=0"],
        ["unix:/run/channels-stack/daphne-1.sock", "backup"],
        ["unix:/run/channels-stack/daphne-2.sock", "backup"],
    ]


@pytest.mark.process
def test_a_load_balancer_without_the_files_proxies_static(render_nginx):
    _, locations = parsed(render_nginx(nginx_serve_static=False))
    assert "alias" not in locations["/static/"]
    assert locations["/static/"]["proxy_pass"] == [["http://channels-stack_http"]]


@pytest.mark.process
def test_access_log_never_contains_a_query_string(render_nginx):
    directives, _ = parsed(render_nginx())
    (log_format,) = directives["log_format"]
    name, *format_parts = log_format
    line = "".join(format_parts)
    assert "$uri" in line
    for leaky in ("$request ", "$request\"", "$request_uri", "$args", "$query_string", "$arg_", "$http_referer"):
        assert leaky not in line, f"{leaky} would log query strings"
    assert all(args[1] == name for args in directives["access_log"] if args[0] != "off")


@pytest.mark.parametrize("sockets", [10_000, 50_000])
@pytest.mark.process
def test_sized_for_the_sockets_of_the_deployment(render_nginx, sockets):
    directives, _ = parsed(render_nginx(app_max_sockets=sockets))
    connections = int(directives["worker_connections"][0][0])
    rlimit = int(directives["worker_rlimit_nofile"][0][0])
    # Two connections per proxied WebSocket, and reuseport's hash is not an even split: one
    # worker alone must be able to carry every socket.
    assert connections >= 2 * sockets
    assert rlimit >= 2 * connections


@pytest.mark.parametrize("variant", NGINX_VARIANTS)
@pytest.mark.process
def test_every_port_spreads_connections_over_the_workers(render_nginx, variant):
    """reuseport and the backlog on exactly one listen of each port (nginx refuses a second),
    so a burst of handshakes is shared by every worker instead of piling onto one."""
    directives, _ = parsed(render_nginx(**NGINX_VARIANTS[variant]))
    by_port = {}
    for args in directives["listen"]:
        by_port.setdefault(args[0], []).append(args[1:])
    wanted = "reuseport" if NGINX_VARIANTS[variant].get("nginx_reuseport", True) else None
    for port, listens in by_port.items():
        with_options = [options for options in listens if "backlog=4096" in options]
        assert len(with_options) == 1, (port, listens)
        if wanted:
            assert wanted in with_options[0], (port, listens)
        else:
            assert all("reuseport" not in options for options in listens)


@pytest.mark.process
def test_tls_variant_follows_mozilla_intermediate(render_nginx):
    directives, _ = parsed(render_nginx())
    assert directives["ssl_protocols"] == [["TLSv1.2", "TLSv1.3"]]
    assert directives["ssl_prefer_server_ciphers"] == [["off"]]
    assert directives["server_tokens"] == [["off"]]
    hsts = [args for args in directives["add_header"] if args[0] == "Strict-Transport-Security"]
    assert hsts == [["Strict-Transport-Security", "max-age=63072000; includeSubDomains", "always"]]
    assert ["301", "https://$host$request_uri"] in directives["return"]


@pytest.mark.process
def test_plain_variant_has_no_tls_and_no_hsts(render_nginx):
    directives, _ = parsed(render_nginx(nginx_tls=False))
    assert "ssl_certificate" not in directives
    assert not [args for args in directives["add_header"] if args[0] == "Strict-Transport-Security"]


def timeouts(units_dir, conf):
    exec_start = parse_unit(units_dir / "channels-stack-daphne@.service")["ExecStart"][0]
    ping = int(re.search(r"--ping-interval (\d+)", exec_start).group(1))
    _, locations = parsed(conf)
    read = int(locations["/ws/"]["proxy_read_timeout"][0][0].rstrip("s"))
    send = int(locations["/ws/"]["proxy_send_timeout"][0][0].rstrip("s"))
    return ping, read, send


@pytest.mark.parametrize(
    "overrides",
    [{}, {"nginx_ws_read_timeout": 5, "nginx_ws_send_timeout": 5, "daphne_ping_interval": 2}],
    ids=["defaults", "e2e-short-timeouts"],
)
@pytest.mark.process
def test_daphne_pings_before_nginx_times_out(render_nginx, tmp_path, overrides):
    """The idle-socket invariant, read from the rendered files themselves."""
    conf = render_nginx(**overrides)
    render.render(render.variables_from(overrides=overrides), tmp_path / "units", ["systemd"])
    ping, read, send = timeouts(tmp_path / "units", conf)
    assert ping < read and ping < send


def test_renderer_refuses_a_ping_interval_the_proxy_would_outlast():
    with pytest.raises(render.RenderError, match="daphne_ping_interval .* must be shorter than nginx_ws_read_timeout"):
        render.variables_from(overrides={"daphne_ping_interval": 60, "nginx_ws_read_timeout": 60})


def upstream_servers(conf, upstream):
    payload = crossplane.parse(str(conf), catch_errors=False)
    for config in payload["config"]:
        for http in (item for item in config["parsed"] if item["directive"] == "upstream"):
            if http["args"] == [upstream]:
                return [item["args"][0] for item in http["block"]
                        if item["directive"] == "server" and "backup" not in item["args"]]
    return None


@pytest.mark.process
def test_upstreams_on_tcp_for_a_host_with_its_own_nginx(render_nginx):
    conf = render_nginx(daphne_tcp_port=9001, daphne_instances=3, http_tcp_port=9000)
    assert upstream_servers(conf, "channels-stack_daphne") == ["127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"]
    assert upstream_servers(conf, "channels-stack_http") == ["127.0.0.1:9000"]


@pytest.mark.process
def test_upstreams_of_a_load_balancer_come_from_the_lists(render_nginx):
    conf = render_nginx(**NGINX_VARIANTS["plain-cluster-load-balancer"])
    assert upstream_servers(conf, "channels-stack_daphne") == ["127.0.0.2:8001", "127.0.0.2:8002", "127.0.0.3:8001"]
    assert upstream_servers(conf, "channels-stack_http") == ["127.0.0.2:8000", "127.0.0.3:8000"]


def test_renderer_refuses_an_upstream_that_is_no_address():
    with pytest.raises(render.RenderError, match="nginx_daphne_servers: 'web1' is neither host:port nor unix:/path"):
        render.variables_from(overrides={"nginx_daphne_servers": ["web1"]})
