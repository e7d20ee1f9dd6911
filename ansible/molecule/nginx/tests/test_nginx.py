"""What role nginx promises, checked on the nginx scenario's container (one host in every group:
inventories/single-host, its group_vars and example vault, two server names from host_vars;
role common ran first, no app), inside it and from the controller."""

import base64
import ssl
import time

import pytest
from websockets.exceptions import InvalidStatus

from conftest import NAME, answer_to, request, tls_connect
from ops import render
from ops.testing import hosts
from ops.testing.client import http, ws_connect


def test_nginx_runs_and_starts_at_boot(host):
    service = host.service("nginx")
    assert service.is_enabled
    assert service.is_running
    assert host.check_output("systemctl show nginx -p NRestarts --value") == "0"


def test_nginx_listens_on_http_and_https(host, variables):
    listeners = [line.split() for line in host.check_output("ss -Hltnp").splitlines()]
    for port in (variables["nginx_http_port"], variables["nginx_https_port"]):
        owners = [fields[-1] for fields in listeners if fields[3].endswith(f":{port}")]
        assert owners and all('"nginx"' in owner for owner in owners), (port, listeners)


def test_configuration_passes_nginx_t(host):
    result = host.run("nginx -t")
    assert result.rc == 0, result.stderr
    assert "test is successful" in result.stderr


def test_only_the_rendered_files_are_loaded(host, variables):
    """Debian's default site is gone; nginx -T lists nginx.conf, the mime types and the site."""
    assert not host.file(f"{variables['nginx_conf_dir']}/sites-enabled/default").exists
    dump = hosts.run(host, "nginx -T 2>/dev/null")
    loaded = {line.split()[-1].rstrip(":") for line in dump.splitlines() if line.startswith("# configuration file ")}
    conf_dir = variables["nginx_conf_dir"]
    assert loaded == {f"{conf_dir}/nginx.conf", variables["nginx_mime_types"], variables["nginx_site_conf"]}


def test_installed_files_are_what_the_renderer_makes(host):
    """The role rendered nginx/ with ansible.builtin.template; ops.render makes the same bytes
    from the same variables."""
    pairs = hosts.rendered_vs_installed(host, NAME, ("nginx",))
    assert len(pairs) == sum(output["target"] == "nginx" for output in render.MANIFEST["outputs"])
    for dest, rendered, installed in pairs:
        assert installed == rendered, dest


def x509(host, path, *options):
    return hosts.run(host, f"openssl x509 -in {path} -noout " + " ".join(options))


def test_certificate_is_self_signed_ecdsa_for_the_server_names(host, variables):
    cert = variables["nginx_tls_certificate"]
    assert (host.file(cert).user, host.file(cert).mode) == ("root", 0o644)
    text = x509(host, cert, "-text")
    assert "Public Key Algorithm: id-ecPublicKey" in text and "ASN1 OID: prime256v1" in text, text
    assert "Signature Algorithm: ecdsa-with-SHA256" in text
    issuer = x509(host, cert, "-issuer", "-nameopt", "RFC2253").strip().removeprefix("issuer=")
    subject = x509(host, cert, "-subject", "-nameopt", "RFC2253").strip().removeprefix("subject=")
    assert issuer == subject == f"CN={variables['app_server_names'][0]}"
    # Signed by its own key: it verifies with itself as the only trusted certificate.
    hosts.run(host, f"openssl verify -partial_chain -CAfile {cert} {cert}")
    sans = x509(host, cert, "-ext", "subjectAltName").splitlines()[1].strip()
    assert sans.split(", ") == [f"DNS:{name}" for name in variables["app_server_names"]]
    hosts.run(host, f"openssl x509 -in {cert} -noout -checkend 86400")


def test_private_key_is_root_only_and_belongs_to_the_certificate(host, variables):
    key = host.file(variables["nginx_tls_certificate_key"])
    assert (key.user, key.group, key.mode) == ("root", "root", 0o600)
    assert "ASN1 OID: prime256v1" in hosts.run(host, f"openssl pkey -in {key.path} -noout -text")
    public_from_key = hosts.run(host, f"openssl pkey -in {key.path} -pubout")
    assert public_from_key == x509(host, variables["nginx_tls_certificate"], "-pubkey")


def test_each_name_is_served_with_that_certificate_over_http2(host, variables, address):
    der = base64.b64decode(hosts.run(host, f"openssl x509 -in {variables['nginx_tls_certificate']} -outform DER "
                                           "| base64 -w0"))
    for name in variables["app_server_names"]:
        with tls_connect(address, variables["nginx_https_port"], name, alpn=["h2", "http/1.1"]) as tls:
            assert tls.getpeercert(binary_form=True) == der, name
            assert tls.selected_alpn_protocol() == "h2", name
            assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_plain_http_redirects_every_name_to_https(variables, address):
    for name in variables["app_server_names"]:
        status, headers, _ = request(address, variables["nginx_http_port"], name, "/api/websocket/health/?a=1")
        assert status == 301, name
        assert headers["location"] == f"https://{name}/api/websocket/health/?a=1"
        assert "strict-transport-security" not in headers  # HSTS means nothing over plain HTTP


def test_acme_challenges_are_answered_over_plain_http(variables, address):
    """Certificate renewal (HTTP-01) is not redirected: nginx looks for the token itself."""
    name = variables["app_server_names"][0]
    status, _, _ = request(address, variables["nginx_http_port"], name, "/.well-known/acme-challenge/missing")
    assert status == 404


@pytest.mark.parametrize("unknown", ["other.example.org", "ADDRESS"])
def test_an_unknown_host_gets_no_answer(variables, address, unknown):
    """444: the connection closes without a byte, over plain HTTP and over TLS with a known SNI."""
    host_header = address if unknown == "ADDRESS" else unknown
    assert answer_to(address, variables["nginx_http_port"], host_header) == b""
    assert answer_to(address, variables["nginx_https_port"], host_header,
                     tls_name=variables["app_server_names"][0]) == b""


@pytest.mark.parametrize("server_name", ["other.example.org", None])
def test_tls_handshake_for_an_unknown_name_or_without_one_is_refused(variables, address, server_name):
    with pytest.raises(ssl.SSLError):
        tls_connect(address, variables["nginx_https_port"], server_name).close()


def test_https_responses_carry_hsts_and_nosniff(variables, address):
    """nginx adds them to every response, its own errors included (the app is not running)."""
    for name in variables["app_server_names"]:
        status, headers, _ = request(address, variables["nginx_https_port"], name, "/", tls=True)
        assert status == 502, name
        assert headers["strict-transport-security"] == f"max-age={variables['nginx_hsts_max_age']}; includeSubDomains"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert "server" not in headers or headers["server"] == "nginx"  # server_tokens off: no version


async def test_websockets_without_daphne_get_502_at_once(site):
    started = time.monotonic()
    status, _ = http("GET", site.base_url + "/ws/test/")
    assert status == 502
    with pytest.raises(InvalidStatus) as refused:
        async with ws_connect(site, "/ws/test/"):
            pass
    assert refused.value.response.status_code == 502
    assert time.monotonic() - started < 5, "nginx waited for an upstream that is not there"
