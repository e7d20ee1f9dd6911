"""The Swagger page in headless Chromium: it renders the API from files this site serves, with
no request to anyone else (no CDN: the page also works offline)."""

from urllib.parse import urlsplit

from ops.testing.artifacts import ARTIFACTS

from .test_demo_page import browser, site  # noqa: F401 - fixtures


def test_the_swagger_page_renders_from_our_own_files(browser, site):  # noqa: F811
    page = browser.new_context().new_page()
    requested, failed, errors = [], [], []
    page.on("request", lambda request: requested.append(request.url))
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.on("response", lambda response: response.status >= 400 and failed.append(f"{response.status} {response.url}"))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(site.base_url + "/api/schema/docs/")
    # Swagger UI drew the schema: its title and an operation of the API.
    page.wait_for_selector(".swagger-ui .info .title:has-text('channels-stack HTTP API')", timeout=15000)
    page.wait_for_selector(".swagger-ui .opblock-summary-path:has-text('/api/ws/ticket/')", timeout=15000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "api-docs.png"))
    ours = urlsplit(site.base_url).netloc
    assert [url for url in requested if urlsplit(url).netloc != ours] == []
    bundle = "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    assert any(url.endswith(bundle) for url in requested)
    assert failed == [] and errors == []
