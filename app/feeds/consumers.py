from urllib.parse import parse_qs

from channels.db import database_sync_to_async

from realtime import protocol
from realtime.consumers import JsonProtocolConsumer, group_frame

from . import scopes


class FeedConsumer(JsonProtocolConsumer):
    """/ws/feed/: joins feed.team.<team> and feed.branch.<branch> from the user's profile.
    ?team=x / ?branch=y picks other scopes, for staff or holders of view_any_feed_scope (else 4003)."""

    route = "feed"

    async def authorize(self):
        query = {k: v[0] for k, v in parse_qs(self.scope.get("query_string", b"").decode("latin1")).items()}
        self.override = scopes.parse_override(query)
        if self.override and not await database_sync_to_async(scopes.can_override)(self.user):
            return self.refuse(protocol.FORBIDDEN, "feed scope override needs staff or view_any_feed_scope")
        return None

    async def get_groups(self):
        if self.override:
            return [scopes.group_name(scope, value) for scope, value in self.override.items()]
        return await database_sync_to_async(scopes.default_groups)(self.user)

    @group_frame
    def feed_event(self, event):
        return {"type": "feed", "scope": event["scope"], "message": event["message"], "by": event["by"]}
