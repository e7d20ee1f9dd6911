"""The demo page served through nginx (static files by nginx, pages by gunicorn, sockets by
daphne), in headless Chromium: two users chat."""

import re

import pytest

from ops.testing.processes import wait_until
from tests.browser.test_demo_page import ARTIFACTS, browser, chat_both_ways, log_in  # noqa: F401 - browser is a fixture


@pytest.mark.browser
def test_two_users_chat_through_nginx(browser, stack):  # noqa: F811
    alice = log_in(browser, stack, "alice")
    bob = log_in(browser, stack, "bob")
    chat_both_ways(alice, bob, "hello through nginx", "hi alice, via daphne")
    ARTIFACTS.mkdir(exist_ok=True)
    alice.screenshot(path=str(ARTIFACTS / "stack-demo-alice.png"), full_page=True)
    assert alice.errors == [] and bob.errors == []
    # The page came from gunicorn, the sockets from daphne, both through nginx (which logs a
    # WebSocket when it closes).
    alice.context.close()
    bob.context.close()
    wait_until(lambda: re.search(r'"GET /ws/chat/\d+/ HTTP/1.1" 101 .*upstream=unix:\S+/daphne-\d.sock',
                                 stack.read_access_log()), 10, "the chat sockets in nginx's access log")
    assert re.search(r'"GET / HTTP/1.1" 200 .*upstream=unix:\S+/http.sock', stack.read_access_log())
