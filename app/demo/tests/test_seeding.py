from chat.models import Conversation
from demo.seeding import DEMO_CONVERSATION_TITLE, DEMO_DIRECT_TITLE, seed_demo_users


def test_seeding_twice_gives_the_room_and_a_two_member_conversation(db):
    seed_demo_users(password="pw-for-tests-1")
    seed_demo_users(password="pw-for-tests-1")
    room, direct = Conversation.objects.order_by("id")
    assert (room.title, direct.title) == (DEMO_CONVERSATION_TITLE, DEMO_DIRECT_TITLE)
    assert sorted(room.members.values_list("username", flat=True)) == ["alice", "bob", "carol"]
    assert sorted(direct.members.values_list("username", flat=True)) == ["alice", "bob"]  # handshakes need two
    assert direct.members.get(username="alice").get_full_name() == "Alice Demo"
