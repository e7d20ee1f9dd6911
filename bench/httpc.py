"""A small asyncio HTTP/1.1 client for the load generator and the runner: one request per
connection, JSON in and out, an optional source address (nginx's limits are per client IP).

urllib would block the event loop (or need a thread per request); this keeps a ticket fetch or
an announce on the same loop as the sockets, with the same cost for the app and the ceiling.
"""

import asyncio
import json
from urllib.parse import urlsplit


async def request(method, url, body=None, token=None, local_addr=None, timeout=10.0):
    """(status, body): body is the parsed JSON, the text when it is not JSON, or None."""
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    data = json.dumps(body).encode() if body is not None else b""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close", "Accept: application/json",
             # Browsers send it; the app's CSRF check applies only to session-authenticated requests.
             f"Origin: {parts.scheme}://{parts.netloc}"]
    if body is not None:
        lines.append("Content-Type: application/json")
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(data)}")
    if token:
        lines.append(f"Authorization: Token {token}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    return await asyncio.wait_for(_exchange(parts.hostname, parts.port or 80, head + data, local_addr), timeout)


async def _exchange(host, port, payload, local_addr):
    reader, writer = await asyncio.open_connection(host, port, local_addr=local_addr)
    try:
        writer.write(payload)
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection without an answer")
        status = int(status_line.split()[1])
        headers = {}
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            raw = b""
            while size := int((await reader.readline()).split(b";")[0], 16):
                raw += await reader.readexactly(size)
                await reader.readline()
        elif "content-length" in headers:
            raw = await reader.readexactly(int(headers["content-length"]))
        else:
            raw = await reader.read()
    finally:
        writer.close()
    try:
        return status, (json.loads(raw) if raw else None)
    except ValueError:
        return status, raw.decode(errors="replace")
