"""wsdoctor: probe a running deployment step by step and name the cause of each failure.

Every step returns a Step; a failed step carries the likely cause and the fix. The mapping
from symptoms to causes is the troubleshooting table of the README, executable.
"""

import base64
import http.client
import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus, WebSocketException
from websockets.sync.client import connect

PASS, WARN, FAIL = "pass", "warn", "fail"

UPGRADE_DROPPED = (
    "The app serves WebSockets at this path (its health report says ASGI, route present), yet the "
    "handshake arrived as plain HTTP: a proxy in front drops the Upgrade/Connection headers.",
    "nginx: proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; "
    "proxy_set_header Connection $connection_upgrade;",
)

HANDSHAKE_CAUSES = {
    404: (
        "The WebSocket URL was answered as a plain HTTP page: no ASGI server behind it (WSGI-only "
        "server, or runserver without daphne in INSTALLED_APPS) or no proxy route for /ws/.",
        "Serve the app with daphne and route /ws/ to it (nginx: location /ws/ { proxy_pass ... }).",
    ),
    400: (
        "The handshake reached the server without its Upgrade/Connection headers: a proxy drops them.",
        "nginx: proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; "
        "proxy_set_header Connection $connection_upgrade;",
    ),
    426: (
        "The server demands an upgrade it never saw: a proxy drops the Upgrade/Connection headers.",
        "nginx: proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; "
        "proxy_set_header Connection $connection_upgrade;",
    ),
    403: (
        "The handshake was refused: the Origin header's host is not in ALLOWED_HOSTS (the server "
        "logs 'websocket rejected ... origin').",
        "Add the site's host to ALLOWED_HOSTS (and CSRF_TRUSTED_ORIGINS), or pass --origin.",
    ),
    500: (
        "The server failed during the handshake.",
        "Read the daphne log. A burst of connects with 'Too many connections' means the Redis pool "
        "is too small: raise REDIS_MAX_CONNECTIONS.",
    ),
    502: ("The proxy could not reach daphne.", "Check that daphne runs and the proxy's upstream address/socket."),
    503: ("The proxy or server is unavailable.", "Check that daphne runs and is healthy."),
    504: ("The proxy timed out waiting for daphne.", "Check that daphne runs and is not overloaded."),
}

CLOSE_CAUSES = {
    4001: ("The server did not accept the credentials.", "Log in again (POST /api/auth/login/) for a fresh token."),
    4003: ("Authenticated, but not allowed on this route.", "Use an account with access, or another route."),
    4004: ("The route's object does not exist.", "Check the id in the URL."),
    4008: ("Closed for a rate or size limit.", "Send fewer or smaller messages."),
    1006: (
        "The connection dropped without a close frame: a proxy or load balancer cut it.",
        "Check proxy timeouts and that the proxy forwards Upgrade headers.",
    ),
}


@dataclass
class Step:
    name: str
    status: str
    detail: str
    cause: str = ""
    fix: str = ""


def ws_url(base, path):
    parts = urlsplit(base)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def origin_of(base):
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}"


def _http_get(url, timeout, headers=None):
    # Ignore *_proxy variables: the doctor probes exactly the URL it was given.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - the URL the user gave
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _unreachable(name, url, error):
    return Step(
        name,
        FAIL,
        f"{url}: {error}",
        "Nothing answers at this address.",
        "Start the server (make run) or check the host, port and firewall.",
    )


class Doctor:
    def __init__(self, base_url, token=None, origin=None, timeout=5.0, idle=0.0,
                 echo_path="/ws/test/", auth_path="/ws/notifications/"):
        self.base = base_url.rstrip("/")
        self.token = token
        self.origin = origin or origin_of(self.base)
        self.timeout = timeout
        self.idle = idle
        self.echo_path = echo_path
        self.auth_path = auth_path
        self.health_report = {}

    def run(self):
        steps = [self.check_http(), self.check_health()]
        if steps[0].status == FAIL and "Nothing answers" in steps[0].cause:
            return steps
        echo = self.check_websocket()
        steps.append(echo)
        if echo.status == PASS:
            steps.append(self.check_ping())
        if self.token:
            steps.append(self.check_authenticated())
        if self.idle and echo.status == PASS:
            steps.append(self.check_idle())
        return steps

    # --- HTTP ---------------------------------------------------------------------------
    def check_http(self):
        url = self.base + "/healthz"
        try:
            status, _ = _http_get(url, self.timeout)
        except (OSError, urllib.error.URLError) as error:
            return _unreachable("http", url, getattr(error, "reason", error))
        if status != 200:
            return Step("http", FAIL, f"GET {url} -> {status}", "The server answers, but /healthz does not.",
                        "Check the proxy routes and the Django URLconf.")
        return Step("http", PASS, f"GET {url} -> 200")

    def check_health(self):
        url = self.base + "/api/websocket/health/"
        # A staff user's token reads the whole report from anywhere; others get its status only.
        headers = {"Authorization": f"Token {self.token}"} if self.token else {}
        try:
            status, body = _http_get(url, self.timeout, headers)
            report = json.loads(body)
        except (OSError, ValueError, urllib.error.URLError) as error:
            return Step("health", FAIL, f"{url}: {error}", "The health endpoint is unreachable or not JSON.",
                        "Check the server log.")
        self.health_report = report
        recommendations = "; ".join(report.get("recommendations", []))
        overall = report.get("status")
        if "checks" not in report:
            # Not an operator here: the advice below the status is not ours to read.
            recommendations = recommendations or report.get("detail", "")
        if overall == "ok":
            summary = "" if "checks" in report else ", status only: the full report is for operators"
            return Step("health", PASS, f"status ok ({status}{summary})")
        if overall == "degraded":
            return Step("health", WARN, f"status degraded ({status})", recommendations)
        return Step("health", FAIL, f"status {overall} ({status})", recommendations,
                    "Fix the failing checks listed above.")

    # --- WebSocket ----------------------------------------------------------------------
    def _connect(self, path, **kwargs):
        return connect(
            ws_url(self.base, path),
            origin=self.origin,
            open_timeout=self.timeout,
            close_timeout=2,
            proxy=None,
            ping_interval=None,
            **kwargs,
        )

    def _raw_handshake_status(self, url):
        """Status of a handshake sent with http.client, which also reads responses the
        WebSocket client refuses to parse (HTTP/1.0 servers, odd proxies)."""
        parts = urlsplit(url)
        connection_class = http.client.HTTPSConnection if parts.scheme == "wss" else http.client.HTTPConnection
        connection = connection_class(parts.hostname, parts.port, timeout=self.timeout)
        try:
            connection.request("GET", parts.path or "/", headers={
                "Upgrade": "websocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
                "Origin": self.origin,
            })
            return connection.getresponse().status
        except (OSError, http.client.HTTPException):
            return None
        finally:
            connection.close()

    def _handshake_failure(self, name, url, error):
        code = None
        if isinstance(error, InvalidStatus):
            code = error.response.status_code
        elif isinstance(error, InvalidMessage):
            code = self._raw_handshake_status(url)
        if code is not None:
            cause, fix = HANDSHAKE_CAUSES.get(
                code, (f"The server answered HTTP {code} instead of 101.", "Check the proxy and server logs.")
            )
            if code == 404 and self._app_serves(url):
                cause, fix = UPGRADE_DROPPED
            return Step(name, FAIL, f"{url}: HTTP {code}", cause, fix)
        if isinstance(error, TimeoutError):  # before OSError, its base class
            return Step(name, FAIL, f"{url}: no handshake answer in {self.timeout}s",
                        "The server or a proxy holds the handshake without answering.",
                        "Check that /ws/ reaches daphne and that daphne is not overloaded.")
        if isinstance(error, OSError):
            return _unreachable(name, url, error)
        return Step(name, FAIL, f"{url}: {type(error).__name__}: {error}",
                    "The handshake response was not a WebSocket upgrade: a proxy in between answers instead.",
                    "Check the proxy's /ws/ location and Upgrade headers.")

    def _app_serves(self, url):
        checks = self.health_report.get("checks", {})
        interface = checks.get("server", {}).get("detail", {}).get("interface")
        routes = checks.get("websocket_routes", {}).get("detail", {}).get("routes", [])
        return interface == "asgi" and urlsplit(url).path in routes

    def _first_message(self, ws):
        try:
            return json.loads(ws.recv(timeout=self.timeout))
        except ConnectionClosed as closed:
            return {"type": "closed", "code": closed.rcvd.code if closed.rcvd else 1006}

    def _closed_step(self, name, url, code):
        cause, fix = CLOSE_CAUSES.get(code, (f"Closed with code {code}.", "Check the server log."))
        return Step(name, FAIL, f"{url}: closed {code}", cause, fix)

    def check_websocket(self):
        url = ws_url(self.base, self.echo_path)
        try:
            with self._connect(self.echo_path) as ws:
                first = self._first_message(ws)
        except (WebSocketException, OSError) as error:
            return self._handshake_failure("websocket", url, error)
        if first.get("type") == "closed":
            return self._closed_step("websocket", url, first["code"])
        instance = first.get("server", {}).get("instance", "?")
        return Step("websocket", PASS, f"{url}: 101, connection_established from {instance}")

    def check_ping(self):
        try:
            with self._connect(self.echo_path) as ws:
                self._first_message(ws)
                started = time.perf_counter()
                ws.send(json.dumps({"type": "ping"}))
                reply = json.loads(ws.recv(timeout=self.timeout))
                rtt = (time.perf_counter() - started) * 1000
        except TimeoutError:
            return Step("ping", FAIL, f"no pong within {self.timeout}s", "Messages do not come back.",
                        "Check the server log for errors in the consumer.")
        except (WebSocketException, OSError) as error:
            return Step("ping", FAIL, f"{type(error).__name__}: {error}", "The socket broke during a ping.",
                        "Check proxy timeouts and the server log.")
        if reply.get("type") != "pong":
            return Step("ping", FAIL, f"expected pong, got {reply.get('type')!r}", "The consumer answered oddly.",
                        "Check that /ws/test/ is this project's echo consumer.")
        return Step("ping", PASS, f"pong in {rtt:.1f} ms")

    def check_authenticated(self):
        url = ws_url(self.base, self.auth_path)
        try:
            with self._connect(self.auth_path, subprotocols=["bearer", self.token]) as ws:
                first = self._first_message(ws)
        except (WebSocketException, OSError) as error:
            return self._handshake_failure("auth", url, error)
        if first.get("type") == "closed":
            return self._closed_step("auth", url, first["code"])
        user = (first.get("user") or {}).get("username")
        return Step("auth", PASS, f"{url}: authenticated as {user}")

    def check_idle(self):
        url = ws_url(self.base, self.echo_path)
        started = time.monotonic()
        try:
            with self._connect(self.echo_path) as ws:
                self._first_message(ws)
                try:
                    ws.recv(timeout=self.idle)
                except TimeoutError:
                    pass  # stayed open and quiet: what we hope for
                ws.send(json.dumps({"type": "ping"}))
                reply = json.loads(ws.recv(timeout=self.timeout))
        except (ConnectionClosed, OSError) as error:
            after = time.monotonic() - started
            return Step(
                "idle",
                FAIL,
                f"{url}: dropped after {after:.0f}s idle ({type(error).__name__})",
                "An idle socket was cut: a proxy's read timeout is shorter than the server's ping interval "
                "(nginx proxy_read_timeout defaults to 60 s).",
                "Raise proxy_read_timeout above daphne's --ping-interval (default 20 s), e.g. 300s.",
            )
        if reply.get("type") != "pong":
            return Step("idle", FAIL, f"expected pong after idling, got {reply.get('type')!r}", "", "")
        return Step("idle", PASS, f"survived {self.idle:.0f}s idle")


def exit_code(steps):
    return 1 if any(step.status == FAIL for step in steps) else 0
