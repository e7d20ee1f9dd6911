"""A plain HTTP + WebSocket client for the system tests (websockets' asyncio client, urllib).

`server` is anything with `base_url` and `ws_base` (a local process, the local stack) or a
`Site`: a deployment reached at an address of the test's own (a container) under its public
name, which goes in the TLS SNI and the Host header as a browser would send them.
"""

import asyncio
import http.client
import json
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request

from websockets.asyncio.client import connect

from ops.testing.processes import DEMO_PASSWORD

# name -> address, like curl --resolve: a Site registers itself here.
RESOLVE = {}


class Site:
    """https://NAME[:PORT] served at ADDRESS (a test host, or 127.0.0.1 and a published port),
    with its certificate not checked (self-signed) unless a CA file is given."""

    def __init__(self, name, address, https=True, ca_file=None, port=None):
        self.name, self.address, self.https = name, address, https
        netloc = f"{name}:{port}" if port else name
        self.base_url = f"{'https' if https else 'http'}://{netloc}"
        self.ws_base = f"{'wss' if https else 'ws'}://{netloc}"
        self.ssl = ssl.create_default_context(cafile=ca_file) if https else None
        if https and not ca_file:
            self.ssl.check_hostname = False
            self.ssl.verify_mode = ssl.CERT_NONE
        RESOLVE[name] = (address, self.ssl)


class _ResolvingHTTPS(http.client.HTTPSConnection):
    def connect(self):
        address, _ = RESOLVE.get(self.host, (self.host, None))
        sock = socket.create_connection((address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _ResolvingHTTP(http.client.HTTPConnection):
    def connect(self):
        address, _ = RESOLVE.get(self.host, (self.host, None))
        self.sock = socket.create_connection((address, self.port), self.timeout)


class _ResolvingHandler(urllib.request.HTTPHandler, urllib.request.HTTPSHandler):
    def http_open(self, req):
        return self.do_open(_ResolvingHTTP, req)

    def https_open(self, req):
        _, context = RESOLVE.get(urllib.parse.urlsplit(req.full_url).hostname, (None, None))
        return self.do_open(_ResolvingHTTPS, req, context=context or ssl.create_default_context())


_opener = urllib.request.build_opener(_ResolvingHandler())


def http(method, url, token=None, body=None, headers=None):
    """(status, body) of one request."""
    status, answer, _ = http_response(method, url, token, body, headers)
    return status, answer


def http_response(method, url, token=None, body=None, headers=None, timeout=10):
    """(status, body, response headers) of one request."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310
    request.add_header("Content-Type", "application/json")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with _opener.open(request, timeout=timeout) as response:
            return response.status, _body(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, _body(error.read()), dict(error.headers)


def _body(raw):
    """JSON when it is JSON (the API), else the text (a page, nginx's own errors)."""
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode(errors="replace")


def login(server, username="alice", password=DEMO_PASSWORD):
    credentials = {"username": username, "password": password}
    status, body = http("POST", server.base_url + "/api/auth/login/", body=credentials)
    assert status == 200, body
    return body["token"]


def ticket(server, token):
    status, body = http("POST", server.base_url + "/api/ws/ticket/", token=token)
    assert status == 201, body
    return body["ticket"]


def ws_connect(server, path, token=None, **kwargs):
    headers = {"Authorization": f"Token {token}"} if token else {}
    headers.update(kwargs.pop("additional_headers", None) or {})
    uri = server.ws_base + path
    parts = urllib.parse.urlsplit(uri)
    if parts.hostname in RESOLVE:
        address, context = RESOLVE[parts.hostname]
        port = parts.port or (443 if parts.scheme == "wss" else 80)
        kwargs.setdefault("host", address)
        kwargs.setdefault("port", port)
        if context is not None:
            kwargs.setdefault("ssl", context)
            kwargs.setdefault("server_hostname", parts.hostname)
    origin = f"{'https' if parts.scheme == 'wss' else 'http'}://{parts.netloc}" if parts.hostname in RESOLVE else (
        "http://127.0.0.1")
    return connect(
        uri,
        origin=origin,
        additional_headers=headers or None,
        proxy=None,
        open_timeout=kwargs.pop("open_timeout", 10),
        **kwargs,
    )


async def receive(ws, kind=None, timeout=5):
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if kind is None or message["type"] == kind:
            return message


def instance(established):
    """daphne-N from connection_established's server.instance ("<host>:daphne-N" or "daphne-N")."""
    return established["server"]["instance"].rsplit(":", 1)[-1]


async def connect_on_each_instance(server, path, token, wanted, attempts=40):
    """Open sockets until one is on each daphne of `wanted`; return {instance: socket}, close the spares.
    nginx balances WebSockets on open connections (least_conn): right after another test an
    instance may hold more (an old nginx worker still draining, clients still closing), and new
    sockets go to the other one until the counts even out, so the spares stay open meanwhile. At
    most 40 by default: under WS_MAX_SOCKETS_PER_USER (50), which counts them too."""
    found, spares = {}, []
    for _ in range(attempts):
        ws = await ws_connect(server, path, token=token)
        name = instance(await receive(ws, "connection_established"))
        if name in wanted and name not in found:
            found[name] = ws
        else:
            spares.append(ws)
        if set(found) == set(wanted):
            break
    for ws in spares:
        await ws.close()
    assert set(found) == set(wanted), f"nginx never reached {set(wanted) - set(found)}"
    return found
