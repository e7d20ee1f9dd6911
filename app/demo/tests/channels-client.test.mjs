// Unit tests for the JS client with a fake WebSocket (node --test, no dependencies).
import assert from "node:assert/strict";
import { test } from "node:test";

import { ChannelsClient, ChatClient, TicketError, ticketFetcher } from "../static/demo/channels-client.js";

class FakeSocket {
  static instances = [];
  constructor(url, protocols) {
    this.url = url;
    this.protocols = protocols;
    this.sent = [];
    this.readyState = 0;
    FakeSocket.instances.push(this);
  }
  send(data) { this.sent.push(JSON.parse(data)); }
  close(code = 1000, reason = "") { this.readyState = 3; this.onclose?.({ code, reason }); }
  open() { this.readyState = 1; this.onopen?.(); }
  receive(message) { this.onmessage?.({ data: JSON.stringify(message) }); }
}

function client(options = {}, Client = ChannelsClient) {
  FakeSocket.instances = [];
  return new Client({ url: "ws://h/ws/x/", WebSocketImpl: FakeSocket, heartbeatMs: 1e6, ...options });
}

const tick = () => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const openSockets = () => FakeSocket.instances.filter((s) => s.readyState !== 3);

function deferred() {
  let resolve, reject;
  const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

test("sends a fresh ticket per connection as the subprotocol, never in the URL", async () => {
  let n = 0;
  const c = client({ getTicket: async () => `t${++n}`, minDelayMs: 1, maxDelayMs: 1 });
  await c.connect();
  assert.equal(FakeSocket.instances[0].url, "ws://h/ws/x/");
  assert.deepEqual(FakeSocket.instances[0].protocols, ["ticket", "t1"]);
  FakeSocket.instances[0].open();
  FakeSocket.instances[0].close(1006);
  await sleep(20);
  assert.deepEqual(FakeSocket.instances[1].protocols, ["ticket", "t2"]);
  assert.ok(FakeSocket.instances.every((s) => !s.url.includes("t1") && !s.url.includes("t2")));
  c.close();
});

test("without getTicket no subprotocol is offered", async () => {
  const c = client();
  await c.connect();
  assert.equal(FakeSocket.instances[0].protocols, undefined);
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
  for (const code of [4001, 4003, 4004]) {
    const c = client({ minDelayMs: 1, maxDelayMs: 1 });
    const states = [];
    c.on("state", (s) => states.push(s.state));
    await c.connect();
    FakeSocket.instances[0].open();
    FakeSocket.instances[0].close(1006);
    await sleep(20);
    assert.equal(FakeSocket.instances.length, 2, "reconnected once");
    FakeSocket.instances[1].open();
    FakeSocket.instances[1].close(code);
    await sleep(20);
    assert.equal(FakeSocket.instances.length, 2, `no retry after ${code}`);
    assert.deepEqual(states, ["open", "reconnecting", "open", "refused"]);
  }
});

test("a refusal carries the code and the server's reason", async () => {
  const c = client();
  const refusals = [];
  c.on("state", (s) => s.state === "refused" && refusals.push(s));
  await c.connect();
  FakeSocket.instances[0].open();
  FakeSocket.instances[0].receive({ type: "error", code: "credential_revoked", message: "Your session ended" });
  FakeSocket.instances[0].close(4001);
  assert.deepEqual(refusals, [{ state: "refused", code: 4001, reason: "Your session ended" }]);
});

test("a failing ticket request retries instead of giving up", async () => {
  let calls = 0;
  const c = client({ minDelayMs: 1, maxDelayMs: 1, getTicket: async () => { if (++calls === 1) throw new Error("503"); return "ok"; } });
  await c.connect();
  await sleep(20);
  await tick();
  assert.equal(FakeSocket.instances.length, 1);
  assert.deepEqual(FakeSocket.instances[0].protocols, ["ticket", "ok"]);
  c.close();
});

test("401 and 403 on the ticket request are final: no retry, state refused with the status", async () => {
  for (const status of [401, 403]) {
    let calls = 0;
    const c = client({ minDelayMs: 1, maxDelayMs: 1, getTicket: async () => { calls += 1; throw new TicketError("no", status); } });
    const states = [];
    c.on("state", (s) => states.push(s));
    await c.connect();
    await sleep(30);
    assert.equal(calls, 1, "asked once");
    assert.equal(FakeSocket.instances.length, 0);
    assert.deepEqual(states, [{ state: "refused", status, reason: "no" }]);
  }
});

test("close() while the ticket request is in flight is final: no socket, no retry", async () => {
  for (const outcome of ["resolve", "reject"]) {
    const pending = deferred();
    let calls = 0;
    const c = client({ minDelayMs: 1, maxDelayMs: 1, getTicket: () => { calls += 1; return pending.promise; } });
    const connecting = c.connect();
    c.close();
    if (outcome === "resolve") pending.resolve("late"); else pending.reject(new Error("network down"));
    await connecting;
    await sleep(30);
    assert.equal(FakeSocket.instances.length, 0, `no socket after close (${outcome})`);
    assert.equal(calls, 1, `no new ticket request after close (${outcome})`);
  }
});

test("close() during a reconnect backoff is final", async () => {
  let calls = 0;
  const c = client({ minDelayMs: 20, maxDelayMs: 20, getTicket: async () => { calls += 1; return "t"; } });
  await c.connect();
  FakeSocket.instances[0].open();
  FakeSocket.instances[0].close(1006);
  c.close();
  await sleep(60);
  assert.equal(calls, 1);
  assert.equal(FakeSocket.instances.length, 1);
});

test("one client never holds two sockets, however often connect() is called", async () => {
  const pending = deferred();
  const c = client({ getTicket: () => pending.promise });
  const first = c.connect();
  const second = c.connect();
  pending.resolve("t");
  await Promise.all([first, second]);
  await c.connect();
  assert.equal(FakeSocket.instances.length, 1);
  FakeSocket.instances[0].open();
  await c.connect();
  assert.equal(openSockets().length, 1);
  c.close();
  assert.equal(openSockets().length, 0);
});

test("a socket closed by close() does not report or reconnect; connect() afterwards starts afresh", async () => {
  const c = client({ minDelayMs: 1, maxDelayMs: 1 });
  const states = [];
  c.on("state", (s) => states.push(s.state));
  await c.connect();
  FakeSocket.instances[0].open();
  c.close();
  await sleep(20);
  assert.deepEqual(states, ["open", "closed"]);
  await c.connect();
  FakeSocket.instances[1].open();
  assert.equal(FakeSocket.instances.length, 2);
  assert.deepEqual(states, ["open", "closed", "open"]);
  c.close();
});

test("the open after a reconnect says reconnected, so the page reloads what it missed", async () => {
  const c = client({ minDelayMs: 1, maxDelayMs: 1 });
  const opens = [];
  c.on("state", (s) => s.state === "open" && opens.push(s.reconnected));
  await c.connect();
  FakeSocket.instances[0].open();
  FakeSocket.instances[0].close(1001);
  await sleep(20);
  FakeSocket.instances[1].open();
  assert.deepEqual(opens, [false, true]);
  c.close();
});

test("heartbeat pings, and a silent socket is closed for reconnect", async () => {
  const c = client({ heartbeatMs: 5, heartbeatTimeoutMs: 5, minDelayMs: 1000 });
  await c.connect();
  const socket = FakeSocket.instances[0];
  socket.open();
  await sleep(30);
  assert.ok(socket.sent.some((m) => m.type === "ping"));
  assert.equal(socket.readyState, 3, "closed after no message within the timeout");
  c.close();
});

test("ticketFetcher posts the token and turns 401/403 into a final TicketError", async () => {
  const calls = [];
  const fetchImpl = async (url, init) => {
    calls.push([url, init]);
    return init.headers.Authorization === "Token good"
      ? { ok: true, status: 201, json: async () => ({ ticket: "tk" }) }
      : { ok: false, status: 401, json: async () => ({ detail: "Invalid token." }) };
  };
  let token = "good";
  const getTicket = ticketFetcher({ getToken: () => token, fetchImpl });
  assert.equal(await getTicket(), "tk");
  assert.deepEqual(calls[0], ["/api/ws/ticket/", { method: "POST", headers: { Authorization: "Token good" } }]);
  token = "revoked";
  await assert.rejects(getTicket(), (error) => error instanceof TicketError && error.status === 401 && error.message === "Invalid token.");
});

test("ChatClient joins on open, again after every reconnect, and leaves", async () => {
  const c = client({ minDelayMs: 1, maxDelayMs: 1 }, ChatClient);
  c.join(7);
  c.join(8);
  c.send({ type: "typing", conversation_id: 7 });
  await c.connect();
  FakeSocket.instances[0].open();
  assert.deepEqual(FakeSocket.instances[0].sent, [
    { type: "join_conversation", conversation_id: 7 },
    { type: "join_conversation", conversation_id: 8 },
    { type: "typing", conversation_id: 7 }, // queued sends go after the joins
  ]);
  c.leave(8);
  c.join(9);
  assert.deepEqual(FakeSocket.instances[0].sent.slice(3), [
    { type: "leave_conversation", conversation_id: 8 },
    { type: "join_conversation", conversation_id: 9 },
  ]);
  FakeSocket.instances[0].close(1006);
  await sleep(20);
  FakeSocket.instances[1].open();
  assert.deepEqual(FakeSocket.instances[1].sent, [
    { type: "join_conversation", conversation_id: 7 },
    { type: "join_conversation", conversation_id: 9 },
  ]);
  c.close();
});

test("ChatClient does not join again what the server refused", async () => {
  const c = client({ minDelayMs: 1, maxDelayMs: 1 }, ChatClient);
  assert.equal(c.url, "ws://h/ws/x/");
  assert.equal(new ChatClient({ WebSocketImpl: FakeSocket }).url, "/ws/chat/");
  c.join(5);
  c.join(6);
  await c.connect();
  FakeSocket.instances[0].open();
  FakeSocket.instances[0].receive({ type: "error", code: "forbidden", ref: "join_conversation", conversation_id: 6, message: "no" });
  FakeSocket.instances[0].close(1006);
  await sleep(20);
  FakeSocket.instances[1].open();
  assert.deepEqual(FakeSocket.instances[1].sent, [{ type: "join_conversation", conversation_id: 5 }]);
  c.close();
});
