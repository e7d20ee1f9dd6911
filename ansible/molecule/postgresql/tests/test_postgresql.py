"""What role postgresql promises, checked on the postgresql scenario's container.

The host is in every group (inventories/single-host, its group_vars and example vault; role
common ran first); phantom-web2 (private_address 10.0.1.12) is a second web host that exists
only in the inventory; postgresql_listen_addresses adds the container's own address.
"""

import pytest

from ops.testing import hosts

DB = USER = "channels_stack"


@pytest.fixture(scope="module")
def password():
    """app_database_password as the inventory defines it: the example vault's secret."""
    return hosts.example_secret("vault_app_database_password")


@pytest.fixture(scope="module")
def address(host):
    out = host.check_output("ip -4 -o addr show scope global")
    return out.split(" inet ")[1].split("/")[0]


def sql(host, query):
    """A query as the superuser (peer authentication over the unix socket)."""
    return host.check_output("cd /tmp && runuser -u postgres -- psql -XAtq -c %s", query)


def connect(host, password, dbname=DB, user=USER, hostaddr="127.0.0.1", query="SELECT current_user"):
    """psql over TCP as a client would; returns the command (rc, stdout, stderr)."""
    return host.run(
        "PGPASSWORD=%s PGCONNECT_TIMEOUT=5 psql -XAtq -h %s -p 5432 -U %s -d %s -c %s",
        password,
        hostaddr,
        user,
        dbname,
        query,
    )


def test_server_enabled_and_running(host):
    assert host.package("postgresql").is_installed
    assert host.package("python3-psycopg2").is_installed
    assert host.service("postgresql").is_enabled
    assert host.service("postgresql@15-main").is_running
    assert host.check_output("pg_lsclusters --no-header").split()[:4] == ["15", "main", "5432", "online"]


def test_listens_on_the_configured_addresses_only(host, address):
    listeners = {
        line.split()[3] for line in host.check_output("ss -Hltn").splitlines() if line.split()[3].endswith(":5432")
    }
    assert f"{address}:5432" in listeners
    assert "127.0.0.1:5432" in listeners
    assert listeners <= {f"{address}:5432", "127.0.0.1:5432", "[::1]:5432"}, listeners


def test_settings(host, address):
    conf = host.file("/etc/postgresql/15/main/conf.d/50-channels-stack.conf")
    assert (conf.user, conf.group, conf.mode) == ("postgres", "postgres", 0o644)
    assert sql(host, "SHOW password_encryption") == "scram-sha-256"
    assert sql(host, "SHOW listen_addresses") == f"localhost,{address}"
    assert sql(host, "SELECT count(*) FROM pg_settings WHERE pending_restart") == "0"
    assert sql(host, "SELECT count(*) FROM pg_file_settings WHERE error IS NOT NULL") == "0"


def test_pg_hba_lists_the_superuser_and_the_app_only(host):
    hba = host.file("/etc/postgresql/15/main/pg_hba.conf")
    assert (hba.user, hba.group, hba.mode) == ("postgres", "postgres", 0o640)
    rules = sql(
        host,
        "SELECT type, array_to_string(database, ','), array_to_string(user_name, ','),"
        " coalesce(address, ''), coalesce(netmask, ''), auth_method, coalesce(error, '')"
        " FROM pg_hba_file_rules ORDER BY line_number",
    ).splitlines()
    assert rules == [
        "local|all|postgres|||peer|",
        f"host|{DB}|{USER}|127.0.0.1|255.255.255.255|scram-sha-256|",
        f"host|{DB}|{USER}|::1|ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff|scram-sha-256|",
        # phantom-web2's private_address; this host itself uses loopback.
        f"host|{DB}|{USER}|10.0.1.12|255.255.255.255|scram-sha-256|",
    ]


def test_app_role_has_no_privileges_and_a_scram_password(host):
    attrs = sql(
        host,
        "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin,"
        f" rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = '{USER}'",
    )
    assert attrs == "f|f|f|f|f|t|t"


def test_database_owned_by_the_app_role_and_closed_to_public(host):
    owner = f"SELECT pg_get_userbyid(datdba), pg_encoding_to_char(encoding) FROM pg_database WHERE datname = '{DB}'"
    assert sql(host, owner) == f"{USER}|UTF8"
    public_connect = sql(
        host,
        "SELECT count(*) FROM pg_database d, aclexplode(d.datacl) a"
        f" WHERE d.datname = '{DB}' AND a.grantee = 0 AND a.privilege_type = 'CONNECT'",
    )
    assert public_connect == "0"
    # Another role, if someone made one, could not connect (even with a pg_hba.conf line).
    sql(host, "CREATE ROLE molecule_probe LOGIN")
    try:
        assert sql(host, f"SELECT has_database_privilege('molecule_probe', '{DB}', 'CONNECT')") == "f"
        assert sql(host, f"SELECT has_database_privilege('{USER}', '{DB}', 'CONNECT')") == "t"
    finally:
        sql(host, "DROP ROLE molecule_probe")


def test_app_connects_to_its_database_with_its_password(host, password):
    out = connect(host, password)
    assert out.rc == 0, out.stderr
    assert out.stdout.strip() == USER


def test_wrong_password_is_refused(host):
    out = connect(host, "not-the-password")
    assert out.rc != 0
    assert f'password authentication failed for user "{USER}"' in out.stderr


@pytest.mark.parametrize("dbname", ["postgres", "template1"])
def test_app_may_not_connect_to_other_databases(host, password, dbname):
    out = connect(host, password, dbname=dbname)
    assert out.rc != 0
    assert "no pg_hba.conf entry" in out.stderr


def test_superuser_may_not_connect_over_tcp(host, password):
    out = connect(host, password, dbname="postgres", user="postgres")
    assert out.rc != 0
    assert "no pg_hba.conf entry" in out.stderr


def test_address_not_in_pg_hba_is_refused(host, password, address):
    # PostgreSQL listens there, but only loopback and the web hosts may log in.
    out = connect(host, password, hostaddr=address)
    assert out.rc != 0
    assert f'no pg_hba.conf entry for host "{address}"' in out.stderr


def test_app_may_not_create_databases(host, password):
    out = connect(host, password, query="CREATE DATABASE molecule_probe")
    assert out.rc != 0
    assert "permission denied to create database" in out.stderr


def test_firewall_admits_postgresql_from_the_web_hosts_only(host):
    # Loopback covers this host; phantom-web2 is the only other web host.
    rules = [line.strip() for line in host.check_output("nft list chain inet filter input").splitlines()]
    assert "ip saddr 10.0.1.12 tcp dport { 5432, 6379 } accept" in rules
    assert sum("5432" in rule for rule in rules) == 1


def test_missing_secret_stops_the_role_at_once(host, tmp_path):
    """The role run without the inventory's vault: it fails before its first change, with a
    message that names the variable, and nothing on the host changes."""
    out = hosts.role_without_secrets(host, "postgresql", tmp_path)
    assert out.returncode == 2, out.stdout + out.stderr
    output = " ".join((out.stdout + out.stderr).split())
    assert "app_database_password (the secret of ops/outputs.yml) is missing" in output
    assert "changed=0" in out.stdout and "failed=1" in out.stdout
