"""The ceiling: a bare `websockets` server in one process speaking the app's protocol, so the
same load generator measures it the same way. No Django, no channel layer, no proxy: what one
Python process on this machine can do, against which every figure of the app is a ratio.

    .venv/bin/python -m bench.ceiling [--port 0] [--http-port 0]     # prints "READY ws=... http=..."

WebSocket (any path; /ws/feed/?team=<slug> joins the group "feed.team.<slug>"):
  first frame {"type": "connection_established", ..., "server": {"instance": "ceiling", ...}},
  {"type": "echo", "data": x} -> {"type": "echo", "data": x}, {"type": "ping", "ts": t} ->
  {"type": "pong", "ts": t}; the "bearer" subprotocol is accepted (and the token ignored).
HTTP (a second port), the endpoints the load generator calls on the app:
  POST /api/auth/login/ -> {"token"}, POST /api/ws/ticket/ -> 201 {"ticket"},
  POST /api/feed/announce/ {"scope": "team", "value": slug, "message": m} -> 202, and every
  member of feed.team.<slug> gets {"type": "feed", "scope": "team:<slug>", "message": m, "by": ...}
  (one frame built once, written to every socket: websockets.broadcast).
"""

import argparse
import asyncio
import json
import secrets
import signal
from collections import defaultdict
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import broadcast, serve

from bench.system import raise_nofile

INSTANCE = "ceiling"
groups = defaultdict(set)


async def handler(ws):
    parts = urlsplit(ws.request.path)
    route = "feed" if parts.path.startswith("/ws/feed/") else "test"
    group = None
    if route == "feed":
        team = parse_qs(parts.query).get("team", ["bench"])[0]
        group = f"feed.team.{team}"
        groups[group].add(ws)
    try:
        await ws.send(json.dumps({
            "type": "connection_established", "user": None, "auth_method": ws.subprotocol or "",
            "groups": [group] if group else [], "server": {"instance": INSTANCE, "route": route},
        }))
        async for text in ws:
            try:
                content = json.loads(text)
            except ValueError:
                await ws.send(json.dumps({"type": "error", "code": "invalid_json", "message": "not JSON"}))
                continue
            kind = content.get("type") if isinstance(content, dict) else None
            if kind == "echo":
                await ws.send(json.dumps({"type": "echo", "data": content.get("data")}))
            elif kind == "ping":
                await ws.send(json.dumps({"type": "pong", "ts": content.get("ts")}))
            else:
                await ws.send(json.dumps({"type": "error", "code": "unknown_type", "message": repr(kind)}))
    finally:
        if group:
            groups[group].discard(ws)
            if not groups[group]:
                del groups[group]


def select_subprotocol(connection, offered):
    """As the app: "bearer" (with the token after it) is accepted, no subprotocol is fine too."""
    return "bearer" if "bearer" in offered else None


def announce(body):
    group = f"feed.{body.get('scope', 'team')}.{body.get('value', '')}"
    frame = json.dumps({"type": "feed", "scope": f"{body.get('scope')}:{body.get('value')}",
                        "message": body.get("message"), "by": INSTANCE})
    broadcast(groups.get(group, ()), frame)
    return 202, {"group": group}


def route_http(method, path, body):
    if path == "/healthz":
        return 200, {"status": "ok"}
    if method != "POST":
        return 405, {"detail": "POST"}
    if path == "/api/auth/login/":
        return 200, {"token": secrets.token_urlsafe(32)}
    if path == "/api/ws/ticket/":
        return 201, {"ticket": secrets.token_urlsafe(32), "expires_in": 30}
    if path == "/api/feed/announce/":
        return announce(body or {})
    return 404, {"detail": "not found"}


async def http_connection(reader, writer):
    """HTTP/1.1, keep-alive, Content-Length bodies: enough for the load generator's client."""
    try:
        while request_line := await reader.readline():
            method, target, _ = request_line.decode("latin1").split(" ", 2)
            headers = {}
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin1").partition(":")
                headers[name.strip().lower()] = value.strip()
            raw = await reader.readexactly(int(headers.get("content-length", 0)))
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            status, answer = route_http(method, urlsplit(target).path, body)
            payload = json.dumps(answer).encode()
            close = headers.get("connection", "").lower() == "close"
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
                f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n".encode() + payload
            )
            await writer.drain()
            if close:
                break
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        pass
    finally:
        writer.close()


async def main(port, http_port):
    raise_nofile()
    stop = asyncio.get_running_loop().create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set_result, None)
    # As daphne: no permessage-deflate, a ping every 20 s, a 1 MiB message limit, backlog 4096.
    async with serve(handler, "127.0.0.1", port, compression=None, ping_interval=20, ping_timeout=30,
                     select_subprotocol=select_subprotocol, backlog=4096) as server:
        http_server = await asyncio.start_server(http_connection, "127.0.0.1", http_port, backlog=4096)
        ws_port = server.sockets[0].getsockname()[1]
        print(f"READY ws=ws://127.0.0.1:{ws_port} http=http://127.0.0.1:{http_server.sockets[0].getsockname()[1]}",
              flush=True)
        await stop
        http_server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--http-port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(main(args.port, args.http_port))
