// The demo page: log in over HTTP, then chat and notifications over WebSockets with ticket auth.
import { ChannelsClient } from "./channels-client.js";

const $ = (id) => document.getElementById(id);
// sessionStorage: one login per tab, so two tabs (or browser contexts) can be two users.
const session = {
  get token() { return sessionStorage.getItem("token"); },
  set token(value) { value ? sessionStorage.setItem("token", value) : sessionStorage.removeItem("token"); },
};
const clients = [];

async function api(path, { method = "GET", body } = {}) {
  const headers = { "Content-Type": "application/json" };
  if (session.token) headers.Authorization = `Token ${session.token}`;
  const response = await fetch(path, { method, headers, body: body && JSON.stringify(body) });
  if (response.status === 401) {
    logout();
    throw new Error("Your session expired: log in again.");
  }
  const data = response.status === 204 ? null : await response.json();
  if (!response.ok) throw new Error(data?.detail || data?.non_field_errors?.[0] || `HTTP ${response.status}`);
  return data;
}

const getTicket = async () => (await api("/api/ws/ticket/", { method: "POST" })).ticket;

function setStatus(state) {
  $("status").dataset.state = state;
  $("status").textContent = state;
}

function appendItem(list, ...nodes) {
  const item = document.createElement("li");
  item.append(...nodes);
  $(list).append(item);
  item.scrollIntoView({ block: "nearest" });
  return item;
}

function showMessage(message) {
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = message.sender.username;
  appendItem("messages", who, document.createTextNode(message.body)).dataset.id = message.id;
}

async function start(user) {
  $("login-panel").hidden = true;
  $("app").hidden = false;
  $("me").textContent = user.username;

  const conversations = await api("/api/chat/conversations/");
  if (conversations.length) {
    const conversation = conversations[0];
    $("conversation-title").textContent = conversation.title;
    $("messages").replaceChildren();
    (await api(`/api/chat/conversations/${conversation.id}/messages/`)).forEach(showMessage);

    const chat = new ChannelsClient({ url: `/ws/chat/${conversation.id}/`, getTicket });
    let typingTimer;
    chat
      .on("state", ({ state }) => setStatus(state))
      .on("message", ({ message }) => {
        showMessage(message);
        if ($("typing").textContent.startsWith(`${message.sender.username} `)) $("typing").textContent = "";
      })
      .on("typing", ({ user: who, is_typing }) => {
        $("typing").textContent = is_typing ? `${who.username} is typing…` : "";
        clearTimeout(typingTimer);
        typingTimer = setTimeout(() => ($("typing").textContent = ""), 4000);
      })
      .on("error", ({ message }) => appendItem("messages", document.createTextNode(`⚠ ${message}`)));
    chat.connect();
    clients.push(chat);

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

  const notifications = new ChannelsClient({ url: "/ws/notifications/", getTicket });
  notifications.on("notification", ({ notification }) =>
    appendItem("notifications", document.createTextNode(`${notification.title} ${notification.body}`)),
  );
  notifications.connect();
  clients.push(notifications);
  $("notify-button").onclick = () =>
    api("/api/notifications/", { method: "POST", body: { title: "Hello", body: `at ${new Date().toLocaleTimeString()}` } });
}

function logout() {
  if (session.token) fetch("/api/auth/logout/", { method: "POST", headers: { Authorization: `Token ${session.token}` } });
  session.token = null;
  clients.splice(0).forEach((client) => client.close());
  $("app").hidden = true;
  $("login-panel").hidden = false;
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
  api("/api/auth/me/").then(start).catch(() => logout());
}
