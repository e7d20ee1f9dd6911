"""Small real TCP proxies that break WebSockets the way misconfigured proxies do, so
wsdoctor can be tested against the failures it diagnoses.

- strip_upgrade: forwards the handshake without Upgrade/Connection (nginx without
  `proxy_http_version 1.1` and the Upgrade headers does exactly this).
- idle_timeout: cuts a connection after N seconds without traffic (nginx proxy_read_timeout).
- fixed_status: answers every request with this HTTP status (servers that insist on 426).
"""

import asyncio
import threading

from ops.testing.processes import free_port


class MisbehavingProxy:
    def __init__(self, upstream_port=None, strip_upgrade=False, idle_timeout=None, fixed_status=None):
        self.upstream_port = upstream_port
        self.strip_upgrade = strip_upgrade
        self.idle_timeout = idle_timeout
        self.fixed_status = fixed_status
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        if not self.ready.wait(5):
            raise RuntimeError("proxy did not start")
        return self

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", self.port))
        self.ready.set()
        try:
            self.loop.run_forever()
        finally:
            server.close()

    async def _handle(self, client_reader, client_writer):
        try:
            head = await client_reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            client_writer.close()
            return
        if self.fixed_status:
            client_writer.write(
                f"HTTP/1.1 {self.fixed_status} Proxy Says No\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
            )
            await client_writer.drain()
            client_writer.close()
            return
        if self.strip_upgrade:
            head = self._without_upgrade(head)
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        upstream_writer.write(head)
        await asyncio.gather(
            self._pipe(client_reader, upstream_writer, client_writer),
            self._pipe(upstream_reader, client_writer, upstream_writer),
            return_exceptions=True,
        )

    @staticmethod
    def _without_upgrade(head):
        lines = head.split(b"\r\n")
        kept = [line for line in lines if not line.lower().startswith((b"upgrade:", b"connection:"))]
        kept.insert(1, b"Connection: close")
        return b"\r\n".join(kept)

    async def _pipe(self, reader, writer, other):
        try:
            while True:
                data = await asyncio.wait_for(reader.read(65536), timeout=self.idle_timeout)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            other.close()
