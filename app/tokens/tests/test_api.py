import pytest
from rest_framework.test import APIClient

from tokens import store


@pytest.fixture
def client():
    return APIClient()


def login(client, username="alice", password="pw-for-tests-1"):
    return client.post("/api/auth/login/", {"username": username, "password": password}, format="json")


def test_login_returns_token_with_expiry(client, alice):
    response = login(client)
    assert response.status_code == 200
    body = response.json()
    assert store.user_for_token(body["token"]) == alice
    assert 0 < body["expires_in"] <= 12 * 3600
    assert body["expires_at"].endswith("+00:00")
    assert body["user"]["username"] == "alice" and body["user"]["team"] == "red"


def test_login_with_wrong_password_says_so(client, alice):
    response = login(client, password="wrong")
    assert response.status_code == 400
    assert "wrong password" in response.json()["non_field_errors"][0]


@pytest.mark.parametrize("keyword", ["Token", "Bearer", "token"])
def test_me_accepts_token_and_bearer(client, alice, token_for, keyword):
    client.credentials(HTTP_AUTHORIZATION=f"{keyword} {token_for(alice)}")
    response = client.get("/api/auth/me/")
    assert response.status_code == 200
    assert response.json()["username"] == "alice"
    assert response.json()["token_expires_at"]


def test_bad_token_gets_401_with_what_to_do(client, db):
    client.credentials(HTTP_AUTHORIZATION="Token nope")
    response = client.get("/api/auth/me/")
    assert response.status_code == 401
    assert "POST /api/auth/login/" in response.json()["detail"]


def test_malformed_header_is_explained(client, db):
    client.credentials(HTTP_AUTHORIZATION="Token a b")
    response = client.get("/api/auth/me/")
    assert response.status_code == 401
    assert "Malformed" in response.json()["detail"]


def test_another_scheme_is_left_to_the_other_authenticators(client, db):
    client.credentials(HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")
    response = client.get("/api/auth/me/")
    assert response.status_code == 401
    assert "Malformed" not in response.json()["detail"]


def test_me_requires_auth(client, db):
    assert client.get("/api/auth/me/").status_code == 401


def test_logout_revokes_the_token(client, alice):
    token = login(client).json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.post("/api/auth/logout/").status_code == 204
    assert client.get("/api/auth/me/").status_code == 401
    assert store.user_for_token(token) is None


def test_ticket_endpoint(client, alice, token_for):
    assert client.post("/api/ws/ticket/").status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(alice)}")
    response = client.post("/api/ws/ticket/")
    assert response.status_code == 201
    assert 0 < response.json()["expires_in"] <= 30
    assert store.redeem_ticket(response.json()["ticket"]) == alice


def test_login_is_throttled(client, alice, monkeypatch):
    from django.core.cache import cache
    from rest_framework.throttling import ScopedRateThrottle

    # DRF binds the rates at import time, so patch them where they are read.
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"login": "2/min"})
    cache.clear()
    try:
        assert [login(client, password="x").status_code for _ in range(3)] == [400, 400, 429]
    finally:
        cache.clear()


def test_unstored_token_is_a_503_with_advice(client, alice, monkeypatch):
    monkeypatch.setattr(store.token_cache(), "add", lambda *args, **kwargs: False)
    response = login(client)
    assert response.status_code == 503
    assert "try again" in response.json()["detail"]
