"""What role common promises, checked on the containers of the common scenario.

The inventory (../molecule.yml, ../inventory/hosts.yml): cs-common-lb in group lb,
cs-common-web in web (daphne on TCP 8001-8002, the HTTP server on 8000), cs-common-data in
data, and phantom-web2 (private_address 10.0.1.12), a web host that exists only on paper.
Variables: ops/defaults.yml and inventories/single-host/group_vars/all.
"""

import json

import pytest

from conftest import DATA, LB, WEB, admitted, ipv4, probe

APP_USER = APP_GROUP = "channels-stack"
APP_HOME = "/srv/channels-stack"


# --- packages, the app user ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["acl", "ca-certificates", "curl", "nftables", "python3-venv", "unattended-upgrades", "systemd-timesyncd"],
)
def test_base_packages(host, name):
    assert host.package(name).is_installed


def test_app_user_is_a_system_account_without_login(host):
    user = host.user(APP_USER)
    assert user.exists
    assert user.uid < 1000, "a system account"
    assert user.group == APP_GROUP
    assert user.home == APP_HOME
    assert user.shell == "/usr/sbin/nologin"
    assert host.check_output("passwd -S %s", APP_USER).split()[1] == "L", "password locked"


def test_app_home_is_not_writable_by_the_app(host):
    home = host.file(APP_HOME)
    assert home.is_directory
    assert (home.user, home.group, home.mode) == ("root", APP_GROUP, 0o755)


# --- time sync ----------------------------------------------------------------------------


def test_time_sync_enabled_and_skipped_only_by_its_container_condition(host):
    service = host.service("systemd-timesyncd")
    assert service.is_enabled
    assert host.run("systemd-detect-virt --container").rc == 0
    show = dict(
        line.split("=", 1)
        for line in host.check_output(
            "systemctl show systemd-timesyncd -p ConditionResult -p Result -p ActiveState"
        ).splitlines()
    )
    # Not started because its condition was false, not because it failed.
    assert show == {"ConditionResult": "no", "Result": "success", "ActiveState": "inactive"}
    status = host.run("systemctl status systemd-timesyncd --no-pager").stdout
    assert "skipped because of an unmet condition check (ConditionVirtualization=!container)" in status


# --- unattended upgrades ------------------------------------------------------------------


def test_unattended_security_upgrades(host):
    dump = host.check_output("apt-config dump")
    assert 'APT::Periodic::Update-Package-Lists "1";' in dump
    assert 'APT::Periodic::Unattended-Upgrade "1";' in dump
    origins = [
        line.split('"')[1] for line in dump.splitlines() if line.startswith("Unattended-Upgrade::Origins-Pattern:: ")
    ]
    # The security suite only: Debian's own list (replaced) also takes the point releases.
    assert origins == [
        "origin=Debian,codename=${distro_codename},label=Debian-Security",
        "origin=Debian,codename=${distro_codename}-security,label=Debian-Security",
    ]
    assert 'Unattended-Upgrade::Automatic-Reboot "false";' in dump
    for timer in ("apt-daily.timer", "apt-daily-upgrade.timer"):
        assert host.service(timer).is_enabled


# --- kernel settings and limits -----------------------------------------------------------


def test_sysctl_file_is_written(host):
    f = host.file("/etc/sysctl.d/60-channels-stack.conf")
    assert (f.user, f.group, f.mode) == ("root", "root", 0o644)
    settings = dict(
        (part.strip() for part in line.split("=", 1))
        for line in f.content_string.splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert int(settings["net.core.somaxconn"]) >= 4096, "daphne's listen backlog is 1024"
    assert int(settings["net.ipv4.tcp_max_syn_backlog"]) >= 4096
    assert int(settings["fs.file-max"]) >= 1048576
    low, high = map(int, settings["net.ipv4.ip_local_port_range"].split())
    assert low >= 10000 and high == 65535, "outgoing ports stay clear of daphne, Redis, PostgreSQL"


def test_proc_sys_is_read_only_in_the_container(host):
    # Why the role writes the file but does not run `sysctl --system` here (README).
    assert "ro" in host.check_output("findmnt -no OPTIONS /proc/sys").split(",")


def test_nofile_limit_of_the_app_user(host):
    f = host.file("/etc/security/limits.d/channels-stack.conf")
    assert (f.user, f.mode) == ("root", 0o644)
    lines = {tuple(line.split()) for line in f.content_string.splitlines() if line and not line.startswith("#")}
    assert lines == {(APP_USER, "soft", "nofile", "65536"), (APP_USER, "hard", "nofile", "65536")}


# --- firewall: what is loaded ------------------------------------------------------------


def test_nftables_enabled_and_loaded_from_the_file(host):
    service = host.service("nftables")
    assert service.is_enabled and service.is_running
    conf = host.file("/etc/nftables.conf")
    assert (conf.user, conf.group, conf.mode) == ("root", "root", 0o755)
    assert host.run("nft --check --file /etc/nftables.conf").rc == 0
    ruleset = json.loads(host.check_output("nft --json list ruleset"))["nftables"]
    chains = {item["chain"]["name"]: item["chain"] for item in ruleset if "chain" in item}
    assert chains["input"]["policy"] == "drop"
    assert chains["forward"]["policy"] == "drop"
    assert chains["output"]["policy"] == "accept"
    text = host.check_output("nft list chain inet filter input")
    for rule in ('iif "lo" accept', "ct state established,related accept", "meta l4proto { 1, 58 } accept"):
        assert rule in text
    assert "tcp dport 22 accept" in text, "SSH from anywhere by default"


def test_rules_of_each_host(host):
    text = host.check_output("nft list chain inet filter input")
    name = host.backend.get_hostname()
    if name == LB:
        assert "tcp dport { 80, 443 } accept" in text
        assert "saddr" not in text
    elif name == WEB:
        lb_address = ipv4(host.get_host(f"podman://{LB}"))
        assert f"ip saddr {lb_address} tcp dport {{ 8000, 8001, 8002 }} accept" in text
        assert "80, 443" not in text
    elif name == DATA:
        web_address = ipv4(host.get_host(f"podman://{WEB}"))
        # phantom-web2's private_address, and the real web host's default IPv4 address.
        expected = ", ".join(sorted(["10.0.1.12", web_address]))
        assert f"ip saddr {{ {expected} }} tcp dport {{ 5432, 6379 }} accept" in text
        assert "80, 443" not in text
    else:
        pytest.fail(f"unexpected host {name}")


# --- firewall: what gets through ---------------------------------------------------------
# Nothing needs to listen: "refused" (a RST) means the SYN passed the firewall, "dropped"
# (no answer) means the firewall ate it.


def test_lb_takes_the_site_from_anyone_and_nothing_else(lb, web, data):
    results = probe(web, lb, [22, 80, 443, 8001, 6379, 5432])
    assert admitted(results) == {22, 80, 443}, results
    results = probe(data, lb, [80, 443, 8000])
    assert admitted(results) == {80, 443}, results


def test_web_takes_daphne_and_http_ports_from_the_lb_only(lb, web, data):
    results = probe(lb, web, [22, 80, 443, 8000, 8001, 8002, 8003, 6379])
    assert admitted(results) == {22, 8000, 8001, 8002}, results
    results = probe(data, web, [8000, 8001, 8002])
    assert admitted(results) == set(), results


def test_data_takes_redis_and_postgresql_from_the_web_hosts_only(lb, web, data):
    results = probe(web, data, [22, 80, 5432, 6379, 8001])
    assert admitted(results) == {22, 5432, 6379}, results
    results = probe(lb, data, [5432, 6379])
    assert admitted(results) == set(), results
