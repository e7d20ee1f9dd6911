"""What role redis promises, checked on the redis scenario's container (a single host:
inventories/single-host, its group_vars and example vault; role common ran first)."""

import pytest

from ops.testing import hosts


@pytest.fixture(scope="module")
def password():
    """app_redis_password as the inventory defines it: the example vault's secret."""
    return hosts.example_secret("vault_app_redis_password")


def cli(host, *args, password=None):
    """redis-cli on the host; the password goes in the environment, never on a command line."""
    env = f"REDISCLI_AUTH={password} " if password else ""
    return host.run(env + "redis-cli -h 127.0.0.1 -p 6379 " + " ".join(["%s"] * len(args)), *args)


def test_redis_server_enabled_and_running(host):
    assert host.package("redis-server").is_installed
    service = host.service("redis-server")
    assert service.is_enabled
    assert service.is_running
    assert host.check_output("systemctl show redis-server -p NRestarts --value") == "0"


def test_listens_on_loopback_only(host):
    listeners = {
        line.split()[3] for line in host.check_output("ss -Hltn").splitlines() if line.split()[3].endswith(":6379")
    }
    assert listeners == {"127.0.0.1:6379"}


def test_config_file_holds_the_password_privately(host, password):
    conf = host.file("/etc/redis/redis.conf")
    assert (conf.user, conf.group, conf.mode) == ("redis", "redis", 0o640)
    lines = set(conf.content_string.splitlines())
    assert f'requirepass "{password}"' in lines
    for line in (
        "supervised systemd",
        "daemonize no",
        "protected-mode yes",
        "bind 127.0.0.1",
        "port 6379",
        "maxmemory 256mb",
        "maxmemory-policy noeviction",
        "maxclients 10000",
        'save ""',
        "appendonly no",
    ):
        assert line in lines, line


def test_refuses_a_client_without_the_password(host):
    out = cli(host, "PING")
    assert "NOAUTH" in out.stdout + out.stderr


def test_refuses_a_wrong_password(host):
    out = cli(host, "PING", password="not-the-password")
    assert "WRONGPASS" in out.stdout + out.stderr


def test_accepts_the_password(host, password):
    out = cli(host, "PING", password=password)
    assert out.stdout.strip() == "PONG"


def config_get(host, password, name):
    out = cli(host, "CONFIG", "GET", name, password=password).stdout.splitlines()
    assert out[0] == name, out
    return out[1]


def test_running_settings(host, password):
    assert config_get(host, password, "maxmemory") == str(256 * 1024 * 1024)
    assert config_get(host, password, "maxmemory-policy") == "noeviction"
    assert config_get(host, password, "protected-mode") == "yes"
    assert config_get(host, password, "save") == ""
    assert config_get(host, password, "appendonly") == "no"
    # Redis lowers maxclients by itself when it cannot open maxclients + 32 files: still
    # 10000 proves the unit's nofile limit is high enough.
    assert config_get(host, password, "maxclients") == "10000"


def test_unit_nofile_limit_raised(host):
    dropin = host.file("/etc/systemd/system/redis-server.service.d/limits.conf")
    assert "LimitNOFILE=65536" in dropin.content_string
    assert host.check_output("systemctl show redis-server -p LimitNOFILE --value") == "65536"
    pid = host.check_output("systemctl show redis-server -p MainPID --value")
    limits = host.check_output(f"cat /proc/{pid}/limits")
    soft = int(next(line for line in limits.splitlines() if line.startswith("Max open files")).split()[3])
    # The container's own hard limit may be lower than 65536 (molecule/README.md); systemd
    # then gives the highest it can.
    assert soft >= 10000 + 32


def test_full_memory_refuses_writes_instead_of_evicting(host, password):
    assert cli(host, "SET", "molecule:kept", "1", password=password).stdout.strip() == "OK"
    try:
        assert cli(host, "CONFIG", "SET", "maxmemory", "1", password=password).stdout.strip() == "OK"
        out = cli(host, "SET", "molecule:new", "x", password=password)
        assert "OOM" in out.stdout + out.stderr
        assert cli(host, "GET", "molecule:kept", password=password).stdout.strip() == "1", "nothing evicted"
    finally:
        cli(host, "CONFIG", "SET", "maxmemory", "256mb", password=password)
        cli(host, "DEL", "molecule:kept", password=password)
    assert config_get(host, password, "maxmemory") == str(256 * 1024 * 1024)


def test_firewall_keeps_redis_on_loopback(host):
    # A single host: the app reaches Redis over loopback, no port is opened for it.
    assert "6379" not in host.check_output("nft list ruleset")


def test_missing_secret_stops_the_role_at_once(host, tmp_path):
    """The role run without the inventory's vault: it fails before its first change, with a
    message that names the variable, and nothing on the host changes."""
    out = hosts.role_without_secrets(host, "redis", tmp_path)
    assert out.returncode == 2, out.stdout + out.stderr
    output = " ".join((out.stdout + out.stderr).split())
    assert "app_redis_password (the secret of ops/outputs.yml) is missing" in output
    assert "changed=0" in out.stdout and "failed=1" in out.stdout
