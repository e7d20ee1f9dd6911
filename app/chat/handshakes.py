"""Two-party handshakes: one member of a two-member conversation asks, the other answers.

The rules (README "Protocol reference" repeats them for client authors):

- Only a conversation with exactly two members has handshakes (`handshake_not_possible`
  otherwise); only its members see or change them.
- Either member may start one. At most one is pending per conversation (a database constraint,
  so two starts at once make one). Starting again while yours is pending, or once one is
  approved, changes nothing and answers with that handshake; starting while the other member's
  is pending is `handshake_pending` (answer theirs instead). After a declined, cancelled or
  expired one, a start makes a new one.
- Only the other member approves or declines a pending handshake; only its initiator cancels it
  (`forbidden` otherwise). Approving an approved handshake again changes nothing.
- A pending handshake expires CHAT_HANDSHAKE_TTL_SECONDS after it was started. There is no
  timer: expiry is noticed when a member next starts, answers or asks for it, and is then
  sent to both like any other change; `expires_at` lets clients show it sooner.
- Every change reaches both members' sockets (either chat route) as
  {"type": "handshake", "handshake": {...}}, after the transaction commits. A handshake does not
  gate messages: what it means is up to the clients.
"""

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from realtime.broadcast import broadcast_on_commit

from . import protocol
from .models import Handshake, Membership, conversation_group
from .services import InvalidText, check_text, conversation_access

MAX_NOTE_LENGTH = Handshake._meta.get_field("message").max_length
ANSWERS = {"approve": Handshake.Status.APPROVED, "decline": Handshake.Status.DECLINED}


class HandshakeError(Exception):
    def __init__(self, code, message, handshake=None):
        super().__init__(message)
        self.code = code
        self.handshake = handshake


def _broadcast(handshake):
    broadcast_on_commit(
        conversation_group(handshake.conversation_id), {"type": "chat.handshake", "handshake": handshake.as_event()}
    )


def _parties(conversation_id, user):
    """The two members' ids (lower first) of a conversation user belongs to."""
    access, _ = conversation_access(conversation_id, user)
    if access == "not_found":
        raise HandshakeError(protocol.NOT_FOUND, f"Conversation {conversation_id} does not exist.")
    if access == "forbidden":
        raise HandshakeError(protocol.FORBIDDEN, f"You are not a member of conversation {conversation_id}.")
    members = sorted(Membership.objects.filter(conversation_id=conversation_id).values_list("user_id", flat=True))
    if len(members) != 2:
        raise HandshakeError(
            protocol.HANDSHAKE_NOT_POSSIBLE,
            f"Handshakes need a conversation of exactly two members; this one has {len(members)}.",
        )
    return members


def _expire_due(conversation_id):
    """Mark pending handshakes past their expiry expired and tell both members. Committed on its
    own, before the action that noticed it (whose error must not roll the expiry back)."""
    now = timezone.now()
    with transaction.atomic():
        due = Handshake.objects.filter(
            conversation_id=conversation_id, status=Handshake.Status.PENDING, expires_at__lte=now
        )
        for handshake in due:
            try:
                _move(handshake, Handshake.Status.EXPIRED)
            except HandshakeError:
                pass  # answered meanwhile


def _latest(conversation_id):
    return Handshake.objects.filter(conversation_id=conversation_id).first()


def _move(handshake, status):
    """pending -> status, or HandshakeError if it is no longer pending. Conditional: of two
    answers at once exactly one changes the handshake."""
    if not Handshake.objects.filter(pk=handshake.pk, status=Handshake.Status.PENDING).update(
        status=status, updated_at=timezone.now()
    ):
        handshake.refresh_from_db()
        raise HandshakeError(protocol.NO_PENDING_HANDSHAKE, f"The handshake is {handshake.status} already.", handshake)
    handshake.refresh_from_db()
    _broadcast(handshake)
    return handshake


def _prepare(conversation_id, user):
    """Membership and the two parties checked, due expiries recorded: the two member ids."""
    parties = _parties(conversation_id, user)
    _expire_due(conversation_id)
    return parties


def current(conversation_id, user):
    """The conversation's latest handshake (None if it never had one)."""
    _prepare(conversation_id, user)
    return _latest(conversation_id)


def start(conversation_id, user, message=""):
    """(handshake, changed): a new pending handshake, or the one that already stands."""
    if not isinstance(message, str) or len(message) > MAX_NOTE_LENGTH:
        raise HandshakeError(
            protocol.INVALID_MESSAGE, f"The note (message) must be text of at most {MAX_NOTE_LENGTH} characters."
        )
    try:  # a NUL or a lone surrogate: no database stores it (a traceback and internal_error before)
        check_text(message, field="message")
    except InvalidText as error:
        raise HandshakeError(protocol.INVALID_MESSAGE, str(error)) from None
    user1, user2 = _prepare(conversation_id, user)
    for _ in range(2):  # a second round only when another start won the race
        latest = _latest(conversation_id)
        if latest is not None and latest.status == Handshake.Status.APPROVED:
            return latest, False
        if latest is not None and latest.status == Handshake.Status.PENDING:
            if latest.initiator_id == user.pk:
                return latest, False
            raise HandshakeError(protocol.HANDSHAKE_PENDING,
                                 "The other member already started a handshake: approve or decline it.", latest)
        try:
            with transaction.atomic():
                handshake = Handshake.objects.create(
                    conversation_id=conversation_id, user1_id=user1, user2_id=user2, initiator=user,
                    message=message.strip(),
                    expires_at=timezone.now() + timedelta(seconds=settings.CHAT_HANDSHAKE_TTL_SECONDS),
                )
                _broadcast(handshake)
        except IntegrityError:
            continue  # the other start's pending handshake exists now: answer as above
        return handshake, True
    raise HandshakeError(protocol.HANDSHAKE_PENDING, "A handshake was started at the same moment: try again.")


def _pending(conversation_id, action):
    latest = _latest(conversation_id)
    if latest is not None and latest.status == Handshake.Status.PENDING:
        return latest
    if latest is not None and latest.status == Handshake.Status.EXPIRED:
        raise HandshakeError(protocol.HANDSHAKE_EXPIRED, "The handshake expired: start a new one.", latest)
    raise HandshakeError(protocol.NO_PENDING_HANDSHAKE, f"No pending handshake to {action}.", latest)


def answer(conversation_id, user, action):
    """action "approve" or "decline", by the member who did not start it: (handshake, changed)."""
    _prepare(conversation_id, user)
    try:
        pending = _pending(conversation_id, action)
    except HandshakeError as error:
        if action == "approve" and error.handshake is not None and error.handshake.status == Handshake.Status.APPROVED:
            return error.handshake, False  # a retried approve
        raise
    if pending.initiator_id == user.pk:
        raise HandshakeError(protocol.FORBIDDEN, f"You started this handshake: the other member can {action} it.",
                             pending)
    with transaction.atomic():
        return _move(pending, ANSWERS[action]), True


def cancel(conversation_id, user):
    """Withdraw a pending handshake, by its initiator: (handshake, True)."""
    _prepare(conversation_id, user)
    pending = _pending(conversation_id, "cancel")
    if pending.initiator_id != user.pk:
        raise HandshakeError(
            protocol.FORBIDDEN, "Only the member who started the handshake cancels it: decline it instead.", pending
        )
    with transaction.atomic():
        return _move(pending, Handshake.Status.CANCELLED), True
