"""The base consumer every example builds on, the diagnostics echo and the staff ops feed."""

import asyncio
import functools
import json
import logging
import secrets
import time

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import DatabaseError

from . import protocol, stats
from .errors import describe
from .groups import local_groups, run_eagerly
from .quota import user_sockets
from .ratelimit import TokenBucket
from .revocation import revocations

logger = logging.getLogger("realtime")


def group_frame(build):
    """For a group-event handler whose frame is the same for every member: `build(self, event)`
    returns the frame, which is encoded once per event and process instead of once per socket
    (realtime.groups hands every local member the same event)."""
    key = f"_frame.{build.__name__}"

    @functools.wraps(build)
    async def handler(self, event):
        text = event.get(key)
        if text is None:
            text = event[key] = json.dumps(build(self, event), default=str)
        await self.send_text(text)

    return handler


class JsonProtocolConsumer(AsyncWebsocketConsumer):
    """JSON envelope {"type": ...} dispatched to `handle_<type>` methods.

    Subclasses set `requires_auth`, `route`, and may override `authorize()` (return a close
    code to refuse), `get_groups()` and `on_connected()`. Bad input never raises: it gets an
    `error` message, or a 4008 close for size and rate limits.
    """

    requires_auth = True
    route = "base"

    async def __call__(self, scope, receive, send):
        # One task per socket, and no channel of its own: channels' __call__ gives every socket
        # a layer channel and a second task (plus channels_redis's two per receive) waiting on
        # it. Group events come through realtime.groups instead, which joins the layer once per
        # group and process and calls group_event() of each local member.
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def dispatch(self, message):
        # channels' own dispatch first hops to the one shared sync thread to close stale
        # database connections, before every handler: each group message delivered to each
        # socket paid for it (half of daphne's loop time in a broadcast, bench/RESULTS.md), and
        # in a reconnect storm disconnects queued behind the connects' database work until
        # daphne killed them, their groups not left. Every database call here goes through
        # database_sync_to_async, which closes stale connections itself, in its thread.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # --- connection lifecycle -------------------------------------------------------------
    async def websocket_disconnect(self, message):
        # channels' version also hops to the shared sync thread (close_old_connections): in a
        # disconnect storm thousands queued there behind any database call.
        await self.disconnect(message["code"])
        raise StopConsumer()

    async def connect(self):
        self.groups_joined = []
        self.watched = False
        self.counted = False
        self.closing = False
        self.ready = False  # group events wait until connection_established has been sent
        self.held_events = []  # group events not yet handed to their handler, in order
        self.delivering = None  # the task a delivery that had to wait goes on in
        # Tells this socket's own group events apart (e.g. not echoing its typing indicator).
        self.socket_id = secrets.token_hex(8)
        self.user = self.scope.get("user")
        # What a revocation names this socket's credential by (never the credential itself).
        self.credential = self.scope.get("auth_credential")
        self.authenticated_at = time.time()  # a "log out everywhere" after it closes the socket
        self.bucket = TokenBucket(settings.WS_RATE_LIMIT_PER_SECOND, settings.WS_RATE_LIMIT_BURST)
        self.admitted = False  # counted in realtime.quota's sockets of its user
        self.refusal_error = None  # (error code, message) a refusal sends before its close, if any
        code = await self.check_access()
        if code is None and self.user and self.user.is_authenticated:
            code = await self.take_a_place()
        # Accept first even when refusing: a close code only reaches the client after accept
        # (a close before it becomes a bare HTTP 403 / client-side 1006).
        await self.accept(subprotocol=self.scope.get("auth_subprotocol"))
        if code is not None:
            if self.refusal_error is not None:
                await self.send_error(*self.refusal_error)
            await self.close(code=code)
            return
        try:
            async with asyncio.timeout(settings.WS_AUTH_TIMEOUT):  # get_groups may ask the database
                groups = await self.get_groups()
            for group in groups:
                self.groups_joined.append(group)
                await local_groups(self.channel_layer).join(group, self)
            if self.user and self.user.is_authenticated:
                self.watched = True
                await revocations(self.channel_layer).watch(self)
        except Exception as error:  # noqa: BLE001 - a socket outside its groups would stay deaf: close it
            # The timeout bounds get_groups (which may ask the database), not the layer's joins.
            why = (f"no answer within {settings.WS_AUTH_TIMEOUT} s (WS_AUTH_TIMEOUT): the database, or this process's "
                   "one database thread, is busy (a storm of connects queues there) or stalled"
                   if isinstance(error, TimeoutError) else describe(error))
            logger.warning("websocket closed: path=%s code=4013 reason=could not join its groups (%s)",
                           self.scope.get("path"), why)
            self.leave_groups()
            await self.send_error(protocol.UNAVAILABLE, "The server cannot deliver messages now: reconnect later.")
            await self.close(code=protocol.UNAVAILABLE_CLOSE)
            return
        stats.opened(self.route)
        self.counted = True
        stats.publish_while_open(self.channel_layer)
        await self.send_json(
            {
                "type": "connection_established",
                "user": self.user_payload(),
                "auth_method": self.scope.get("auth_method", ""),
                "groups": self.groups_joined,
                "server": {"instance": settings.SERVER_INSTANCE_ID, "route": self.route},
            }
        )
        self.ready = True
        self.deliver_held_events()
        self.idle_timer = None
        if not (self.user and self.user.is_authenticated) and settings.WS_ANONYMOUS_IDLE_SECONDS > 0:
            self.restart_idle_timer()
        await self.on_connected()

    def restart_idle_timer(self):
        """Anonymous sockets that say nothing are closed after WS_ANONYMOUS_IDLE_SECONDS: each costs
        memory, and nobody can be asked to log in again to free it."""
        if self.idle_timer is not None:
            self.idle_timer.cancel()
        self.idle_timer = asyncio.get_running_loop().call_later(
            settings.WS_ANONYMOUS_IDLE_SECONDS, lambda: asyncio.ensure_future(self.idle_close()))

    async def idle_close(self):
        if not self.closing:
            await self.policy_close(protocol.IDLE_TIMEOUT, f"No message for {settings.WS_ANONYMOUS_IDLE_SECONDS:g} s: "
                                                           "anonymous sockets are closed when idle.")

    async def group_event(self, event):
        """Called by realtime.groups for each event sent to one of this socket's groups. Never
        waits: a delivery that has to wait (a send held by the server's flow control) goes on in
        a task, and later events queue behind it, so one slow socket holds up nobody else."""
        if self.closing:
            return
        self.held_events.append(event)
        if len(self.held_events) > settings.WS_MAX_HELD_EVENTS:
            self.cut_off_too_slow()
        elif self.ready:
            self.deliver_held_events()

    def deliver_held_events(self):
        if self.delivering is None and self.held_events and not self.closing:
            self.delivering = run_eagerly(self._deliver_held_events())
            if self.delivering is not None:
                self.delivering.add_done_callback(self._delivered)

    async def _deliver_held_events(self):
        while self.held_events and not self.closing:
            event = self.held_events.pop(0)
            try:
                await self.dispatch(event)
            except Exception:
                logger.exception("handler for group event %r failed on %s", event.get("type"), self.scope.get("path"))

    def _delivered(self, task):
        self.delivering = None
        self.deliver_held_events()  # what arrived while the last of them went out

    def cut_off_too_slow(self):
        logger.warning("websocket closed: path=%s code=%s reason=the client is not reading (%d group events "
                       "waiting, WS_MAX_HELD_EVENTS=%d)", self.scope.get("path"), protocol.TOO_SLOW,
                       len(self.held_events), settings.WS_MAX_HELD_EVENTS)
        self.held_events = []
        self.closing = True
        # The close itself waits for the client under flow control: in a task of its own.
        closing = asyncio.ensure_future(super().close(code=protocol.TOO_SLOW))
        closing.add_done_callback(lambda task: task.cancelled() or task.exception())

    async def check_access(self):
        if self.scope.get("auth_unavailable"):
            return self.refuse(protocol.UNAVAILABLE_CLOSE,
                               f"credentials could not be checked: {self.scope['auth_unavailable']}")
        error = self.scope.get("auth_error")
        if error:
            return self.refuse(protocol.UNAUTHENTICATED, error)
        if self.requires_auth and not (self.user and self.user.is_authenticated):
            return self.refuse(protocol.UNAUTHENTICATED, "no credentials (send a ticket, token or session)")
        try:
            async with asyncio.timeout(settings.WS_AUTH_TIMEOUT):
                return await self.authorize()
        except (TimeoutError, DatabaseError) as error:
            return self.refuse(protocol.UNAVAILABLE_CLOSE, f"access could not be checked ({type(error).__name__}: "
                                                          "database unavailable or too slow)")

    async def take_a_place(self):
        """None, or 4008 when the user already has WS_MAX_SOCKETS_PER_USER open sockets."""
        if not await user_sockets(self.channel_layer).admit(self.user.pk, self.socket_id):
            self.refusal_error = (protocol.TOO_MANY_SOCKETS, f"At most {settings.WS_MAX_SOCKETS_PER_USER} open sockets "
                                  "per user: close some (other tabs, devices) first.")
            return self.refuse(protocol.POLICY_VIOLATION,
                               f"{settings.WS_MAX_SOCKETS_PER_USER} sockets of this user already open "
                               "(WS_MAX_SOCKETS_PER_USER)")
        self.admitted = True
        return None

    def refuse(self, code, reason):
        logger.warning(
            "websocket rejected: path=%s code=%s reason=%s user=%s",
            self.scope.get("path"),
            code,
            reason,
            getattr(self.user, "pk", None),
        )
        return code

    async def authorize(self):
        """Return a close code (protocol.FORBIDDEN / NOT_FOUND) to refuse, or None."""
        return None

    async def get_groups(self):
        return []

    async def on_connected(self):
        pass

    async def on_disconnect(self, code):
        """Last words of a socket that was fully connected (e.g. a presence "leave"). The
        socket's groups are left afterwards whatever happens here."""

    async def disconnect(self, code):
        # Subclasses extend on_disconnect(), not this: leaving the groups must not depend on
        # anything before it succeeding, or dead channel names stay in Redis for a day.
        try:
            if getattr(self, "counted", False):
                await self.on_disconnect(code)
        except Exception as error:  # noqa: BLE001 - the groups below matter more than a farewell
            logger.warning("disconnect of %s: %s failed (%s); leaving its groups anyway",
                           self.scope.get("path"), type(self).__name__, describe(error))
        finally:
            if getattr(self, "idle_timer", None) is not None:
                self.idle_timer.cancel()
            self.leave_groups()
            if getattr(self, "counted", False):
                stats.closed(self.route)
                self.counted = False

    def leave_groups(self):
        # Local and immediate: no layer call can fail here. The process leaves the layer's group
        # (in the background) only when its last member of that group is gone.
        groups = local_groups(self.channel_layer)
        for group in getattr(self, "groups_joined", ()):
            groups.leave(group, self)
        self.groups_joined = []
        if getattr(self, "watched", False):
            revocations(self.channel_layer).unwatch(self)
            self.watched = False
        if getattr(self, "admitted", False):
            user_sockets(self.channel_layer).release(self.user.pk, self.socket_id)
            self.admitted = False
        self.ready = False

    async def credential_revoked(self, event):
        """Called by realtime.revocation when this socket's credential (or every credential of
        its user) was revoked: logout, "log out everywhere", user deactivated or deleted."""
        logger.info("websocket closed: path=%s code=4001 reason=credential revoked user=%s",
                    self.scope.get("path"), getattr(self.user, "pk", None))
        await self.send_error(protocol.CREDENTIAL_REVOKED, "Your session ended (logged out): log in again.")
        await self.close(code=protocol.UNAUTHENTICATED)

    @classmethod
    def lost_access(cls, consumers):
        """Called in a database thread by realtime.revocation's periodic check (and after an
        `auth.changed` for a user) with open sockets of this class whose login is still valid:
        return {socket: what its access_lost() gets} for those that may no longer have what they
        were given at connect. One query for all of them, not one per socket."""
        return {}

    async def access_lost(self, what):
        """Close a socket lost_access() named (4003); subclasses may narrow it instead (leave one
        conversation and stay open)."""
        logger.info("websocket closed: path=%s code=4003 reason=access withdrawn (%s) user=%s",
                    self.scope.get("path"), what, getattr(self.user, "pk", None))
        await self.send_error(protocol.ACCESS_WITHDRAWN, f"Access withdrawn: {what}.")
        await self.close(code=protocol.FORBIDDEN)

    async def realtime_resync(self, event):
        """realtime.groups: this process may have missed group events for this socket (the
        layer forgot its memberships, or was unreachable). The client reloads what it shows over
        HTTP, as after a reconnect; the socket itself is fine."""
        await self.send_json({"type": "resync", "reason": event.get("reason", "")})

    async def close(self, code=None, reason=None):
        # Once closing, nothing more is sent or handled: a flood behind a policy close, or a
        # group event, would otherwise try to send on a socket autobahn has closed.
        self.closing = True
        await super().close(code=code, reason=reason)

    def user_payload(self):
        if not (self.user and self.user.is_authenticated):
            return None
        return {"id": self.user.pk, "username": self.user.get_username(), "is_staff": self.user.is_staff}

    # --- receiving ----------------------------------------------------------------------
    async def receive(self, text_data=None, bytes_data=None):
        if self.closing:
            return
        if getattr(self, "idle_timer", None) is not None:
            self.restart_idle_timer()
        if not self.bucket.allow():
            await self.policy_close(protocol.RATE_LIMITED, "Too many messages: slow down and reconnect.")
            return
        if bytes_data is not None:
            await self.send_error(protocol.BINARY_NOT_SUPPORTED, "Send JSON text frames, not binary.")
            return
        if len(text_data.encode("utf-8")) > settings.WS_MAX_MESSAGE_BYTES:
            await self.policy_close(
                protocol.MESSAGE_TOO_LARGE,
                f"Message larger than {settings.WS_MAX_MESSAGE_BYTES} bytes.",
            )
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self.send_error(protocol.INVALID_JSON, "Message is not valid JSON.")
            return
        except RecursionError:  # deep nesting well under the size limit ("[[[[..."): not ValueError
            await self.send_error(protocol.INVALID_JSON, "Message is nested too deeply.")
            return
        if not isinstance(content, dict):
            await self.send_error(protocol.INVALID_MESSAGE, 'Send a JSON object such as {"type": "ping"}.')
            return
        message_type = content.get("type") or content.get("action")
        handler = None
        if isinstance(message_type, str) and message_type.isidentifier():
            handler = getattr(self, f"handle_{message_type}", None)
        if handler is None:
            await self.send_error(protocol.UNKNOWN_TYPE, f"Unknown message type {message_type!r}.", ref=message_type)
            return
        try:
            await handler(content)
        except Exception:
            logger.exception("handler for %r failed on %s", message_type, self.scope.get("path"))
            await self.send_error(protocol.INTERNAL_ERROR, "The server failed to handle this message.")

    async def handle_ping(self, content):
        # Clients written for other setups say `timestamp` where ours say `ts`, and some read
        # "message": "pong": one pong carries every spelling (README: compatibility aliases).
        stamp = content.get("ts", content.get("timestamp"))
        await self.send_json({"type": "pong", "ts": stamp, "timestamp": stamp, "message": "pong"})

    # --- sending ------------------------------------------------------------------------
    async def send_json(self, content):
        await self.send_text(json.dumps(content, default=str))

    async def send_text(self, text):
        await self.base_send({"type": "websocket.send", "text": text})

    async def send_error(self, code, message, **extra):
        await self.send_json({"type": "error", "code": code, "message": message, **extra})

    async def policy_close(self, code, message):
        logger.warning("websocket closed: path=%s code=4008 reason=%s", self.scope.get("path"), code)
        await self.send_error(code, message)
        await self.close(code=protocol.POLICY_VIOLATION)


class EchoConsumer(JsonProtocolConsumer):
    """/ws/test/: no auth, echoes what it gets. For diagnostics (wsdoctor) and smoke tests."""

    requires_auth = False
    route = "test"

    async def handle_echo(self, content):
        await self.send_json({"type": "echo", "data": content.get("data")})


class OpsConsumer(JsonProtocolConsumer):
    """/ws/ops/: staff only. This instance's stats on connect and on request, then every
    instance's (each publishes while it has open sockets) every OPS_STATS_INTERVAL_SECONDS."""

    route = "ops"

    async def authorize(self):
        if not self.user.is_staff:
            return self.refuse(protocol.FORBIDDEN, "ops feed is for staff only")
        return None

    @classmethod
    def lost_access(cls, consumers):
        from django.contrib.auth import get_user_model

        staff = set(get_user_model()._default_manager.filter(
            pk__in={consumer.user.pk for consumer in consumers}, is_staff=True).values_list("pk", flat=True))
        return {consumer: "no longer staff" for consumer in consumers if consumer.user.pk not in staff}

    async def get_groups(self):
        return [stats.OPS_GROUP]

    async def on_connected(self):
        await self.send_stats()

    async def send_stats(self):
        await self.send_json({"type": "stats", **stats.snapshot()})

    @group_frame
    def ops_stats(self, event):
        return {"type": "stats", **{key: value for key, value in event.items() if not key.startswith(("type", "_"))}}

    async def handle_stats(self, content):
        await self.send_stats()
