import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db(transaction=True)


def test_returns_at_once_when_everything_is_ready(capsys):
    call_command("waitfor", "--migrations", "--timeout", "5")
    assert "migrations applied" in capsys.readouterr().out


def test_gives_up_on_an_unreachable_redis_and_says_what_to_do(settings, capsys):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    advice = r"gave up after 1 s waiting for redis .*start redis-server or fix REDIS_URL"
    with pytest.raises(CommandError, match=advice):
        call_command("waitfor", "--timeout", "1", "--interval", "0.2")
    assert capsys.readouterr().err.count("waiting for redis") == 1  # said once, not every attempt


def test_waits_for_unapplied_migrations(monkeypatch):
    from health.management.commands import waitfor

    monkeypatch.setattr(waitfor, "unapplied_migrations", lambda: ["0002_pending"])
    with pytest.raises(CommandError, match=r"1 unapplied migrations .*manage.py migrate"):
        call_command("waitfor", "--migrations", "--timeout", "0", "--interval", "0")
