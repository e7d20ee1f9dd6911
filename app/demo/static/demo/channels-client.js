// channels-client.js: a small WebSocket client for channels-stack. No dependencies; copy it.
//
//   const client = new ChannelsClient({ url: "/ws/notifications/", getTicket: async () => "..." });
//   client.on("notification", (msg) => ...).on("state", ({ state, reconnected }) => ...);
//   client.connect();
//
// - Reconnects with exponential backoff and full jitter (no thundering herd after a deploy).
// - Heartbeat: sends {"type":"ping"} every `heartbeatMs`; no message within `heartbeatTimeoutMs`
//   means a dead socket (half-open TCP), so it reconnects.
// - Auth with a fresh one-time ticket per connection, sent as the subprotocol ["ticket", t]:
//   never a credential in the URL (proxies log URLs).
// - send() while reconnecting queues the message and flushes it once connected.
// - Final (no retry, state "refused" with the code or HTTP status and the server's reason):
//   close codes 4001/4003/4004, and 401/403 on the ticket request (the login is gone).
// - close() is final too: nothing it started reconnects, whatever was in flight.
// - One client never holds two sockets. After a reconnect, state "open" says reconnected: true,
//   so the page reloads what it missed over HTTP.
//
// ChatClient adds the multiplexed chat socket (/ws/chat/): join(id) / leave(id), joined again
// after every reconnect.

export const FINAL_CLOSE_CODES = new Set([4001, 4003, 4004]);
export const FINAL_HTTP_STATUSES = new Set([401, 403]);
export const TICKET_SUBPROTOCOL = "ticket";
const OPEN = 1;

// A ticket request the server refused (or failed): `status` says whether retrying can help.
export class TicketError extends Error {
  constructor(message, status) {
    super(message);
    this.name = "TicketError";
    this.status = status;
  }
}

// getTicket for a page that holds a token: POST /api/ws/ticket/ with it.
export function ticketFetcher({ getToken, url = "/api/ws/ticket/", fetchImpl = (...args) => globalThis.fetch(...args) }) {
  return async () => {
    const response = await fetchImpl(url, { method: "POST", headers: { Authorization: `Token ${getToken()}` } });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new TicketError(data.detail || `ticket request failed: HTTP ${response.status}`, response.status);
    return data.ticket;
  };
}

export class ChannelsClient {
  constructor({
    url,
    getTicket = null,
    minDelayMs = 500,
    maxDelayMs = 30000,
    heartbeatMs = 25000,
    heartbeatTimeoutMs = 10000,
    maxQueue = 100,
    WebSocketImpl = globalThis.WebSocket,
  }) {
    Object.assign(this, { url, getTicket, minDelayMs, maxDelayMs, heartbeatMs, heartbeatTimeoutMs, maxQueue });
    this.WebSocketImpl = WebSocketImpl;
    this.handlers = new Map();
    this.queue = [];
    this.attempt = 0;
    this.socket = null;
    this.stopped = true;
    this.timers = {};
    // Each connect() and close() starts a new generation: a ticket request or a socket of an
    // older one finds out it is stale and does nothing (close() in the middle of a connect).
    this.generation = 0;
    this.connecting = false;
    this.opened = false; // has any socket of this client opened yet (so the next one is a reconnect)
    this.lastError = null;
  }

  on(type, handler) {
    if (!this.handlers.has(type)) this.handlers.set(type, []);
    this.handlers.get(type).push(handler);
    return this;
  }

  emit(type, payload) {
    for (const handler of this.handlers.get(type) || []) handler(payload);
    for (const handler of this.handlers.get("*") || []) handler(payload);
  }

  get isOpen() {
    return Boolean(this.socket && this.socket.readyState === OPEN);
  }

  async connect() {
    if (this.socket || this.connecting) return; // one socket per client, ever
    this.stopped = false;
    clearTimeout(this.timers.reconnect);
    const generation = ++this.generation;
    const current = () => generation === this.generation && !this.stopped;
    this.connecting = true;
    let protocols;
    try {
      if (this.getTicket) protocols = [TICKET_SUBPROTOCOL, await this.getTicket()];
    } catch (error) {
      if (!current()) return; // closed meanwhile: that was final
      this.connecting = false;
      if (FINAL_HTTP_STATUSES.has(error.status)) {
        this.refuse({ status: error.status, reason: error.message });
      } else {
        this.emit("state", { state: "reconnecting", error: String(error) });
        this.scheduleReconnect();
      }
      return;
    }
    if (!current()) return;
    this.connecting = false;
    const socket = protocols ? new this.WebSocketImpl(this.absoluteUrl(this.url), protocols)
                             : new this.WebSocketImpl(this.absoluteUrl(this.url));
    this.socket = socket;
    this.lastError = null;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.attempt = 0;
      const reconnected = this.opened;
      this.opened = true;
      this.resubscribe();
      this.emit("state", { state: "open", reconnected });
      while (this.queue.length && socket.readyState === OPEN) socket.send(this.queue.shift());
      this.startHeartbeat();
    };
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      this.armHeartbeatTimeout();
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === "error") this.lastError = message;
      this.emit(message.type, message);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.stopHeartbeat();
      this.socket = null;
      if (this.stopped) {
        this.emit("state", { state: "closed", code: event.code });
      } else if (FINAL_CLOSE_CODES.has(event.code)) {
        this.refuse({ code: event.code, reason: this.lastError?.message || event.reason || "" });
      } else {
        this.emit("state", { state: "reconnecting", code: event.code });
        this.scheduleReconnect();
      }
    };
  }

  // Hook for subclasses: runs when a socket opens, before queued messages are sent.
  resubscribe() {}

  refuse(details) {
    this.stop();
    this.emit("state", { state: "refused", ...details });
  }

  absoluteUrl(path) {
    if (/^wss?:/.test(path)) return path;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}${path}`;
  }

  // Full jitter: a random delay in [0, min(max, base * 2^attempt)].
  nextDelay() {
    const ceiling = Math.min(this.maxDelayMs, this.minDelayMs * 2 ** this.attempt);
    this.attempt += 1;
    return Math.random() * ceiling;
  }

  scheduleReconnect() {
    clearTimeout(this.timers.reconnect);
    this.timers.reconnect = setTimeout(() => this.connect(), this.nextDelay());
  }

  send(message) {
    const data = JSON.stringify(message);
    if (this.isOpen) {
      this.socket.send(data);
    } else {
      if (this.queue.length >= this.maxQueue) this.queue.shift();
      this.queue.push(data);
    }
  }

  startHeartbeat() {
    this.stopHeartbeat();
    this.timers.heartbeat = setInterval(() => this.send({ type: "ping", ts: Date.now() }), this.heartbeatMs);
    this.armHeartbeatTimeout();
  }

  armHeartbeatTimeout() {
    clearTimeout(this.timers.heartbeatTimeout);
    this.timers.heartbeatTimeout = setTimeout(() => {
      if (this.socket) this.socket.close(4000, "heartbeat timeout");
    }, this.heartbeatMs + this.heartbeatTimeoutMs);
  }

  stopHeartbeat() {
    clearInterval(this.timers.heartbeat);
    clearTimeout(this.timers.heartbeatTimeout);
  }

  // Stop for good: no reconnect, and a connect() in flight gives up.
  stop() {
    this.stopped = true;
    this.generation += 1;
    this.connecting = false;
    clearTimeout(this.timers.reconnect);
    this.stopHeartbeat();
  }

  close() {
    this.stop();
    this.queue = [];
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.close(1000);
      this.emit("state", { state: "closed", code: 1000 });
    }
  }
}

// The multiplexed chat socket: one socket, many conversations.
export class ChatClient extends ChannelsClient {
  constructor(options) {
    super({ url: "/ws/chat/", ...options });
    this.conversations = new Set();
    // A join the server refused (not a member, no such conversation) is not tried again.
    this.on("error", (error) => {
      if (error.ref === "join_conversation" && ["forbidden", "not_found", "too_many_conversations"].includes(error.code)) {
        this.conversations.delete(error.conversation_id);
      }
    });
  }

  join(conversationId) {
    this.conversations.add(conversationId);
    if (this.isOpen) this.socket.send(JSON.stringify({ type: "join_conversation", conversation_id: conversationId }));
  }

  leave(conversationId) {
    this.conversations.delete(conversationId);
    if (this.isOpen) this.socket.send(JSON.stringify({ type: "leave_conversation", conversation_id: conversationId }));
  }

  resubscribe() {
    for (const id of this.conversations) {
      this.socket.send(JSON.stringify({ type: "join_conversation", conversation_id: id }));
    }
  }
}
