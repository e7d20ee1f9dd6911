// The demo page: log in over HTTP, then chat and notifications over WebSockets with ticket auth.
import { ChannelsClient, ticketFetcher } from "./channels-client.js";

const $ = (id) => document.getElementById(id);
// sessionStorage: one login per tab, so two tabs (or browser contexts) can be two users.
const session = {
  get token() { return sessionStorage.getItem("token"); },
  set token(value) { value ? sessionStorage.setItem("token", value) : sessionStorage.removeItem("token"); },
};
let clients = [];

async function api(path, { method = "GET", body } = {}) {
  const headers = { "Content-Type": "application/json" };
  if (session.token) headers.Authorization = `Token ${session.token}`;
  const response = await fetch(path, { method, headers, body: body && JSON.stringify(body) });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (response.status === 401 && session.token) {
    endSession("Your session expired: log in again.");
    throw new Error("Your session expired: log in again.");
  }
  if (!response.ok) throw new Error(data?.detail || data?.non_field_errors?.[0] || `HTTP ${response.status}`);
  return data;
}

// A 401/403 on the ticket request is final for the client: the login is gone.
const getTicket = ticketFetcher({ getToken: () => session.token });

function setStatus(state, text = state) {
  $("status").dataset.state = state;
  $("status").textContent = text;
}

function appendItem(list, id, ...nodes) {
  // Keyed by id: reloading after a reconnect adds what was missed, never a second copy.
  if (id !== undefined && $(list).querySelector(`li[data-id="${id}"]`)) return null;
  const item = document.createElement("li");
  if (id !== undefined) item.dataset.id = id;
  item.append(...nodes);
  $(list).append(item);
  item.scrollIntoView({ block: "nearest" });
  return item;
}

function showMessage(message) {
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = message.sender.username;
  appendItem("messages", message.id, who, document.createTextNode(message.body ?? message.content));
}

function showNotification(notification) {
  appendItem("notifications", notification.id, document.createTextNode(`${notification.title} ${notification.body}`));
}

const loadNotifications = async () => (await api("/api/notifications/")).reverse().forEach(showNotification);

// What every client of the page does with its state: show it, end the session on a revoked
// login (4001, or 401/403 on the ticket request), reload what it missed after a reconnect or a
// `resync`.
function follow(client, { reload, showState = false }) {
  client.on("state", (change) => {
    if (change.state === "refused" && (change.code === 4001 || change.status === 401 || change.status === 403)) {
      endSession(change.reason || "Your session ended: log in again.");
      return;
    }
    if (change.state === "refused") {
      setStatus("refused", `refused (${change.code || change.status})`);
      $("notice").textContent = change.reason;
      return;
    }
    if (showState) setStatus(change.state);
    if (change.state === "open" && change.reconnected) reload().catch(() => {});
  });
  // The server may have missed events for this socket (its channel layer was away or forgot
  // its groups): the socket is fine, what the page shows is reloaded as after a reconnect.
  client.on("resync", () => reload().catch(() => {}));
  clients.push(client);
  client.connect();
  return client;
}

function stopClients() {
  clients.splice(0).forEach((client) => client.close());
}

async function start(user) {
  stopClients(); // a new login never leaves the last one's sockets behind
  $("login-panel").hidden = true;
  $("app").hidden = false;
  $("me").textContent = user.username;
  $("notice").textContent = "";
  $("messages").replaceChildren();
  $("notifications").replaceChildren();

  const conversations = await api("/api/chat/conversations/");
  if (conversations.length) {
    const conversation = conversations[0];
    $("conversation-title").textContent = conversation.title;
    const loadHistory = async () => (await api(`/api/chat/conversations/${conversation.id}/messages/`)).forEach(showMessage);
    await loadHistory();

    const chat = new ChannelsClient({ url: `/ws/chat/${conversation.id}/`, getTicket });
    let typingTimer;
    chat
      .on("message", ({ message }) => {
        showMessage(message);
        if ($("typing").textContent.startsWith(`${message.sender.username} `)) $("typing").textContent = "";
      })
      .on("typing", ({ user: who, is_typing }) => {
        $("typing").textContent = is_typing ? `${who.username} is typing…` : "";
        clearTimeout(typingTimer);
        typingTimer = setTimeout(() => ($("typing").textContent = ""), 4000);
      })
      .on("error", ({ code, message }) => {
        if (code !== "credential_revoked") appendItem("messages", undefined, document.createTextNode(`⚠ ${message}`));
      });
    follow(chat, { reload: loadHistory, showState: true });

    let lastTyping = 0;
    $("chat-input").oninput = () => {
      if (Date.now() - lastTyping > 2000) {
        lastTyping = Date.now();
        chat.send({ type: "typing", is_typing: true });
      }
    };
    $("chat-form").onsubmit = (event) => {
      event.preventDefault();
      const body = $("chat-input").value.trim();
      if (body) chat.send({ type: "message", body });
      $("chat-input").value = "";
    };
  }

  await loadNotifications();
  const notifications = new ChannelsClient({ url: "/ws/notifications/", getTicket });
  notifications.on("notification", ({ notification }) => showNotification(notification));
  follow(notifications, { reload: loadNotifications });
  $("notify-button").onclick = () =>
    api("/api/notifications/", { method: "POST", body: { title: "Hello", body: `at ${new Date().toLocaleTimeString()}` } });
}

function showLogin() {
  $("app").hidden = true;
  $("login-panel").hidden = false;
}

// The server ended the session (logout elsewhere, revoked, expired): stop, and say why.
function endSession(reason) {
  session.token = null;
  stopClients();
  showLogin();
  setStatus("logged-out", "logged out");
  $("login-error").textContent = reason;
}

function logout() {
  stopClients(); // first: the server's 4001 for this logout must not look like a revocation
  if (session.token) fetch("/api/auth/logout/", { method: "POST", headers: { Authorization: `Token ${session.token}` } });
  session.token = null;
  showLogin();
  setStatus("offline");
}

$("login-form").onsubmit = async (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  try {
    const result = await api("/api/auth/login/", {
      method: "POST",
      body: { username: $("username").value, password: $("password").value },
    });
    session.token = result.token;
    await start(result.user);
  } catch (error) {
    $("login-error").textContent = error.message;
  }
};
$("logout-button").onclick = logout;

if (session.token) {
  // A 401 has ended the session already (and says why); anything else: start over.
  api("/api/auth/me/").then(start).catch(() => session.token && logout());
}
