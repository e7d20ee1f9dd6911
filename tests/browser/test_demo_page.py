"""The demo page in headless Chromium (Debian's), driven by Playwright: two users in two
browser contexts chat live, and a notification arrives."""


import pytest

from ops.testing.artifacts import ARTIFACTS
from ops.testing.processes import DEMO_PASSWORD
from ops.testing.tools import require_tool

# Debian's Chromium as root in a closed network: no sandbox, no background traffic.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser():
    chromium = require_tool("chromium", "the demo page is tested in a real browser")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def site(start_daphne):
    # DEBUG on so whitenoise serves static files straight from the apps (no collectstatic).
    return start_daphne("browser", DJANGO_DEBUG="true")


def log_in(browser, site, username):
    page = browser.new_context().new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(site.base_url + "/")
    page.fill("#username", username)
    page.fill("#password", DEMO_PASSWORD)
    page.click("#login-button")
    page.wait_for_selector("#status[data-state=open]", timeout=15000)
    page.errors = errors
    return page


def chat_both_ways(alice, bob, from_alice, from_bob):
    """alice sends with the button, bob answers with Enter; each sees the other's message live."""
    alice.fill("#chat-input", from_alice)
    alice.click("#send-button")
    bob.wait_for_selector(f"#messages li:has-text('{from_alice}')", timeout=10000)
    bob.fill("#chat-input", from_bob)
    bob.press("#chat-input", "Enter")
    alice.wait_for_selector(f"#messages li:has-text('{from_bob}')", timeout=10000)


def test_two_users_chat_live(browser, site):
    alice = log_in(browser, site, "alice")
    bob = log_in(browser, site, "bob")
    assert alice.text_content("#me") == "alice" and bob.text_content("#me") == "bob"

    chat_both_ways(alice, bob, "hello from alice", "hi alice")

    alice.click("#notify-button")
    alice.wait_for_selector("#notifications li:has-text('Hello')", timeout=10000)

    ARTIFACTS.mkdir(exist_ok=True)
    alice.screenshot(path=str(ARTIFACTS / "demo-alice.png"), full_page=True)
    bob.screenshot(path=str(ARTIFACTS / "demo-bob.png"), full_page=True)
    assert alice.errors == [] and bob.errors == []
    # The page authenticates sockets with one-time tickets, never with the token in a URL.
    log = site.read_log()
    assert "ticket=" not in log and "token=" not in log


def test_wrong_password_is_explained(browser, site):
    page = browser.new_context().new_page()
    page.goto(site.base_url + "/")
    page.fill("#username", "alice")
    page.fill("#password", "wrong")
    page.click("#login-button")
    page.wait_for_selector("#login-error:has-text('wrong password')", timeout=10000)
