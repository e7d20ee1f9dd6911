// Unit tests for the JS client with a fake WebSocket (node --test, no dependencies).
import assert from "node:assert/strict";
import { test } from "node:test";

import { ChannelsClient } from "../static/demo/channels-client.js";

class FakeSocket {
  static instances = [];
  constructor(url) {
    this.url = url;
    this.sent = [];
    this.readyState = 0;
    FakeSocket.instances.push(this);
  }
  send(data) { this.sent.push(JSON.parse(data)); }
  close(code = 1000) { this.readyState = 3; this.onclose?.({ code }); }
  open() { this.readyState = 1; this.onopen?.(); }
  receive(message) { this.onmessage?.({ data: JSON.stringify(message) }); }
}

function client(options = {}) {
  FakeSocket.instances = [];
  return new ChannelsClient({ url: "ws://h/ws/x/", WebSocketImpl: FakeSocket, heartbeatMs: 1e6, ...options });
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test("fetches a fresh ticket for every connection", async () => {
  let n = 0;
  const c = client({ getTicket: async () => `t${++n}` });
  await c.connect();
  assert.equal(FakeSocket.instances[0].url, "ws://h/ws/x/?ticket=t1");
  c.close();
});

test("queues sends while disconnected and flushes them on open", async () => {
  const c = client();
  c.send({ type: "message", body: "early" });
  await c.connect();
  const socket = FakeSocket.instances[0];
  assert.deepEqual(socket.sent, []);
  socket.open();
  assert.deepEqual(socket.sent, [{ type: "message", body: "early" }]);
  c.close();
});

test("dispatches messages by type", async () => {
  const c = client();
  const got = [];
  c.on("pong", (m) => got.push(m));
  await c.connect();
  FakeSocket.instances[0].open();
  FakeSocket.instances[0].receive({ type: "pong", ts: 1 });
  assert.deepEqual(got, [{ type: "pong", ts: 1 }]);
  c.close();
});

test("backoff grows exponentially, is capped, and jittered", () => {
  const c = client({ minDelayMs: 100, maxDelayMs: 1000 });
  const original = Math.random;
  Math.random = () => 0.999;
  try {
    const delays = Array.from({ length: 6 }, () => Math.round(c.nextDelay()));
    assert.deepEqual(delays, [100, 200, 400, 799, 999, 999]);
  } finally {
    Math.random = original;
  }
  Math.random = () => 0;
  try {
    assert.equal(c.nextDelay(), 0);
  } finally {
    Math.random = original;
  }
});

test("reconnects after an abnormal close, not after 4001/4003/4004", async () => {
  const c = client({ minDelayMs: 1, maxDelayMs: 1 });
  const states = [];
  c.on("state", (s) => states.push(s.state));
  await c.connect();
  FakeSocket.instances[0].open();
  FakeSocket.instances[0].close(1006);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(FakeSocket.instances.length, 2, "reconnected once");
  FakeSocket.instances[1].open();
  FakeSocket.instances[1].close(4001);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(FakeSocket.instances.length, 2, "no retry after 4001");
  assert.deepEqual(states, ["open", "reconnecting", "open", "refused"]);
});

test("a failing ticket request retries instead of giving up", async () => {
  let calls = 0;
  const c = client({ minDelayMs: 1, maxDelayMs: 1, getTicket: async () => { if (++calls === 1) throw new Error("503"); return "ok"; } });
  await c.connect();
  await new Promise((resolve) => setTimeout(resolve, 20));
  await tick();
  assert.equal(FakeSocket.instances.length, 1);
  assert.ok(FakeSocket.instances[0].url.endsWith("ticket=ok"));
  c.close();
});

test("heartbeat pings, and a silent socket is closed for reconnect", async () => {
  const c = client({ heartbeatMs: 5, heartbeatTimeoutMs: 5, minDelayMs: 1000 });
  await c.connect();
  const socket = FakeSocket.instances[0];
  socket.open();
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.ok(socket.sent.some((m) => m.type === "ping"));
  assert.equal(socket.readyState, 3, "closed after no message within the timeout");
  c.close();
});
