"""The demo page when the server ends its session (issue 13): logged out elsewhere, the page says
so and stops (no ticket request after the 4001), and a new login leaves exactly one socket per
route and no message twice."""

import time

from ops.testing.artifacts import ARTIFACTS
from ops.testing.client import http
from ops.testing.processes import DEMO_PASSWORD, wait_until

from .test_demo_page import browser, site  # noqa: F401 - fixtures


class Watched:
    """A page with every WebSocket and ticket request it makes written down."""

    def __init__(self, browser, server):  # noqa: F811
        self.page = browser.new_context().new_page()
        self.sockets, self.tickets, self.errors = [], [], []
        self.page.on("websocket", lambda ws: self.sockets.append(ws))
        self.page.on("request", lambda r: self.tickets.append(r.url) if r.url.endswith("/api/ws/ticket/") else None)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(server.base_url + "/")

    def log_in(self, username):
        self.page.fill("#username", username)
        self.page.fill("#password", DEMO_PASSWORD)
        self.page.click("#login-button")
        self.page.wait_for_selector("#status[data-state=open]", timeout=15000)

    def open_sockets(self, path_part):
        return [ws for ws in self.sockets if path_part in ws.url and not ws.is_closed()]


def revoke_then_log_in_again(browser, server):  # noqa: F811
    watched = Watched(browser, server)
    page = watched.page
    watched.log_in("alice")
    # Whichever of the page's sockets hears the 4001 first ends the session and closes the
    # others before their own frame arrives, so the frame is looked for on all of them.
    revoked = []

    def note_revocation(payload):
        if "credential_revoked" in str(payload):
            revoked.append(payload)

    for socket in watched.open_sockets("/ws/"):
        socket.on("framereceived", note_revocation)

    # Logged out elsewhere (another tab, "log out" on a phone): the server closes the socket (4001).
    token = page.evaluate("sessionStorage.getItem('token')")
    status, _ = http("POST", server.base_url + "/api/auth/logout/", token=token)
    assert status in (200, 204)
    page.wait_for_selector("#status[data-state=logged-out]", timeout=10000)
    assert "log in again" in page.text_content("#login-error")
    assert revoked, "a socket of the page was closed with the credential_revoked error (4001)"
    assert page.is_visible("#login-panel")
    tickets_at_4001 = len(watched.tickets)
    page.wait_for_timeout(3000)  # the old client asked again within 0.5 s, then backed off
    assert len(watched.tickets) == tickets_at_4001, "no ticket request after the 4001"
    wait_until(lambda: not watched.open_sockets("/ws/"), 5, "every socket of the old login closed")

    watched.log_in("alice")
    page.fill("#chat-input", "after logging in again")
    page.click("#send-button")
    page.wait_for_selector("#messages li:has-text('after logging in again')", timeout=10000)
    page.wait_for_timeout(1000)  # a second socket's copy would arrive by now
    assert page.locator("#messages li:has-text('after logging in again')").count() == 1
    assert len(watched.open_sockets("/ws/chat/")) == 1 and len(watched.open_sockets("/ws/notifications/")) == 1
    assert all("ticket=" not in ws.url and "token=" not in ws.url for ws in watched.sockets)
    assert watched.errors == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "demo-relogin.png"), full_page=True)
    page.context.close()


def test_revoked_then_logged_in_again(browser, site):  # noqa: F811
    started = time.monotonic()
    revoke_then_log_in_again(browser, site)
    assert time.monotonic() - started < 60
