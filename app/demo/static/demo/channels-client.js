// channels-client.js: a small WebSocket client for channels-stack. No dependencies; copy it.
//
//   const client = new ChannelsClient({ url: "/ws/notifications/", getTicket: async () => "..." });
//   client.on("notification", (msg) => ...);
//   client.connect();
//
// - Reconnects with exponential backoff and full jitter (no thundering herd after a deploy).
// - Heartbeat: sends {"type":"ping"} every `heartbeatMs`; no message within `heartbeatTimeoutMs`
//   means a dead socket (half-open TCP), so it reconnects.
// - Auth with a fresh one-time ticket per connection (?ticket=), never a long-lived token in URLs.
// - send() while reconnecting queues the message and flushes it once connected.
// - Close codes 4001/4003/4004 are final (reconnecting would fail the same way): no retry.

export const FINAL_CLOSE_CODES = new Set([4001, 4003, 4004]);

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

  async connect() {
    this.stopped = false;
    clearTimeout(this.timers.reconnect);
    let url = this.absoluteUrl(this.url);
    try {
      if (this.getTicket) {
        const ticket = await this.getTicket();
        url += (url.includes("?") ? "&" : "?") + "ticket=" + encodeURIComponent(ticket);
      }
    } catch (error) {
      this.emit("state", { state: "reconnecting", error: String(error) });
      this.scheduleReconnect();
      return;
    }
    if (this.stopped) return;
    const socket = new this.WebSocketImpl(url);
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      this.emit("state", { state: "open" });
      while (this.queue.length && socket.readyState === 1) socket.send(this.queue.shift());
      this.startHeartbeat();
    };
    socket.onmessage = (event) => {
      this.armHeartbeatTimeout();
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      this.emit(message.type, message);
    };
    socket.onclose = (event) => {
      this.stopHeartbeat();
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.stopped) {
        this.emit("state", { state: "closed", code: event.code });
      } else if (FINAL_CLOSE_CODES.has(event.code)) {
        this.stopped = true;
        this.emit("state", { state: "refused", code: event.code });
      } else {
        this.emit("state", { state: "reconnecting", code: event.code });
        this.scheduleReconnect();
      }
    };
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
    if (this.socket && this.socket.readyState === 1) {
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

  close() {
    this.stopped = true;
    clearTimeout(this.timers.reconnect);
    this.stopHeartbeat();
    if (this.socket) this.socket.close(1000);
  }
}
