"""A plain HTTP + WebSocket client for live tests (websockets' asyncio client, urllib)."""

import asyncio
import json
import urllib.error
import urllib.request

from websockets.asyncio.client import connect

from ops.testing.processes import DEMO_PASSWORD


def http(method, url, token=None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else None


def login(server, username="alice"):
    credentials = {"username": username, "password": DEMO_PASSWORD}
    status, body = http("POST", server.base_url + "/api/auth/login/", body=credentials)
    assert status == 200, body
    return body["token"]


def ticket(server, token):
    status, body = http("POST", server.base_url + "/api/ws/ticket/", token=token)
    assert status == 201, body
    return body["ticket"]


def ws_connect(server, path, token=None, **kwargs):
    headers = {"Authorization": f"Token {token}"} if token else None
    return connect(
        server.ws_base + path,
        origin="http://127.0.0.1",
        additional_headers=headers,
        proxy=None,
        open_timeout=kwargs.pop("open_timeout", 10),
        **kwargs,
    )


async def receive(ws, kind=None, timeout=5):
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if kind is None or message["type"] == kind:
            return message
