"""render.yaml's own buildCommand, preDeployCommand and startCommand, run here as Render runs
them: from the root of a copy of the repository, in a fresh venv whose bin/ is first on PATH,
with the environment the blueprint declares. A local redis-server and PostgreSQL cluster stand
in for Key Value and Render Postgres; requests carry what Render's proxy sends (the
onrender.com Host, X-Forwarded-Proto: https).
"""

import asyncio
import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from ops.postgres import LocalPostgres
from ops.testing.client import receive
from ops.testing.processes import Process, RedisServer, free_port
from ops.testing.tools import require_tool
from ops.tools import REPO_DIR, tail

from .blueprint import blueprint, service, web

pytestmark = [pytest.mark.live, pytest.mark.timeout(600)]

HOSTNAME = "chat-test.onrender.com"  # what Render puts in RENDER_EXTERNAL_HOSTNAME
PASSWORD = "render-blueprint-password-1"
# From this machine's environment only what reaches PyPI (pip's own settings, proxies, CA
# bundles) and the basics; nothing of this test run's own Django or venv leaks in.
PASSED_THROUGH = ("PATH", "HOME", "LANG", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE")
PASSED_PREFIXES = ("PIP_", "LC_")
PROXIES = ("http_proxy", "https_proxy", "no_proxy", "all_proxy")


def machine_env(venv):
    env = {key: value for key, value in os.environ.items()
           if key in PASSED_THROUGH or key.startswith(PASSED_PREFIXES) or key.lower() in PROXIES}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    env["VIRTUAL_ENV"] = str(venv)  # what activating the venv sets; the start command reads it
    env["PYTHONUNBUFFERED"] = "1"
    return env


def blueprint_env(web_service, stand_ins, services=None):
    """Each envVar of a service: its value, a random one for generateValue, the stand-in's URL for
    fromDatabase / fromService, another service's variable for fromService.envVarKey (from
    `services`: {name: env}). Anything else fails, so new wiring updates this test."""
    env = {}
    for item in web_service["envVars"]:
        key = item["key"]
        if "value" in item:
            env[key] = str(item["value"])
        elif item.get("generateValue"):
            env[key] = secrets.token_urlsafe(32)  # Render: a base64 256-bit value
        elif "envVarKey" in item.get("fromService", {}):
            env[key] = (services or {})[item["fromService"]["name"]][item["fromService"]["envVarKey"]]
        elif "fromDatabase" in item or "fromService" in item:
            reference = item.get("fromDatabase") or item["fromService"]
            env[key] = stand_ins[(reference["name"], reference["property"])]
        else:
            pytest.fail(f"render.yaml env var {key}: no local stand-in for {item}")
    return env


def copy_of_the_repository(dest):
    """What Render checks out: the tracked files plus new ones not ignored (this work tree)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO_DIR,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO_DIR / name
        if source.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
            target.chmod(source.stat().st_mode & 0o777)
    return dest


def run(label, command, cwd, env, log_dir, timeout):
    """One of the blueprint's commands through a POSIX shell (dash here: no bash-isms slip in)."""
    started = time.monotonic()
    log = log_dir / f"{label}.log"
    with open(log, "wb") as out:
        result = subprocess.run(["/bin/sh", "-c", command], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                timeout=timeout)
    assert result.returncode == 0, f"{label} failed ({result.returncode}):\n{tail(log, 40)}"
    return round(time.monotonic() - started, 1)


def request(port, method, path, body=None, https=True, token=None):
    """A request as Render's proxy forwards it: the public Host, and X-Forwarded-Proto: https."""
    headers = {"Host": HOSTNAME}
    if https:
        headers["X-Forwarded-Proto"] = "https"
    if token:
        headers["Authorization"] = f"Token {token}"
    if body is not None:
        headers["Content-Type"] = "application/json"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        started = time.monotonic()
        connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        elapsed = time.monotonic() - started
    finally:
        connection.close()
    try:
        payload = json.loads(raw) if raw else None
    except ValueError:
        payload = raw.decode(errors="replace")
    return response.status, payload, response.headers, elapsed


@pytest.fixture
def stand_ins(tmp_path):
    """Key Value and Render Postgres: a local redis-server and a throwaway PostgreSQL cluster."""
    redis_binary = require_tool("redis-server", "it stands in for Render Key Value")
    require_tool("initdb", "a local PostgreSQL stands in for Render Postgres")
    require_tool("pg_ctl", "a local PostgreSQL stands in for Render Postgres")
    document = blueprint()
    redis_dir = tmp_path / "redis"
    redis_dir.mkdir()
    redis = RedisServer(redis_binary, redis_dir)
    postgres = LocalPostgres(Path("/tmp") / f"render-pg-{secrets.token_hex(4)}")  # short: socket path limit
    postgres.directory.mkdir()
    try:
        postgres.start()
        (database,) = document["databases"]
        yield {
            (database["name"], "connectionString"): postgres.url,
            (service(document, "keyvalue")["name"], "connectionString"): redis.url,
        }, {"PGHOST": str(postgres.socket_dir)}
    finally:
        postgres.stop()
        redis.stop()
        subprocess.run(["rm", "-rf", str(postgres.directory)], check=False)


async def test_blueprint_builds_migrates_and_serves_http_and_websockets(tmp_path, stand_ins):
    urls, libpq_env = stand_ins
    service_ = web()
    checkout = copy_of_the_repository(tmp_path / "src")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    # Whatever pip Render's image has, the build installs the locked one first: shown from the
    # oldest a venv hands out here (Debian 12's).
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "pip==23.0.1"], check=True, timeout=300)
    port = free_port()
    runtime = {
        **machine_env(venv),
        **blueprint_env(service_, urls),
        **libpq_env,  # the cluster listens on a unix socket only; libpq finds it through PGHOST
        # What Render itself sets at run time:
        "PORT": str(port),
        "RENDER": "true",
        "RENDER_EXTERNAL_HOSTNAME": HOSTNAME,
        "RENDER_EXTERNAL_URL": f"https://{HOSTNAME}",
    }
    # The build gets no secret and no service URL at all: collectstatic must not need them.
    build_env = {**machine_env(venv), "PYTHON_VERSION": runtime["PYTHON_VERSION"],
                 "DJANGO_SETTINGS_MODULE": runtime["DJANGO_SETTINGS_MODULE"]}
    times = {"build": run("build", service_["buildCommand"], checkout, build_env, tmp_path, 420)}
    assert (checkout / "app/staticfiles/staticfiles.json").exists(), "collectstatic wrote no manifest"
    times["pre-deploy"] = run("pre-deploy", service_["preDeployCommand"], checkout, runtime, tmp_path, 120)
    # The first user, as a one-off shell on Render would create it.
    run("seed", f"cd app && python manage.py seed_demo --allow-production --password {PASSWORD}", checkout, runtime,
        tmp_path, 120)
    # The token clean-up's cron job, with its own environment (Render gives a cron job no host name).
    cron = service(blueprint(), "cron")
    cron_env = {**machine_env(venv), **blueprint_env(cron, urls, {service_["name"]: runtime}), **libpq_env}
    times["cron build"] = run("cron build", cron["buildCommand"], checkout, cron_env, tmp_path, 300)
    times["cron"] = run("cron", cron["startCommand"], checkout, cron_env, tmp_path, 120)
    assert "expired entries from token_cache" in (tmp_path / "cron.log").read_text()

    server = Process(["/bin/sh", "-c", service_["startCommand"]], tmp_path / "start.log", env=runtime, cwd=checkout)
    try:
        def healthy():
            return request(port, "GET", service_["healthCheckPath"], https=False)[0] == 200

        server.await_ready(healthy, 60, "the start command")
        # exec: the shell became daphne, so a SIGTERM to the service reaches the server itself.
        assert b"realtime.server" in Path(f"/proc/{server.popen.pid}/cmdline").read_bytes()

        # Render's health check: its own Host, maybe no X-Forwarded-Proto; 2xx within 5 s.
        status, body, _, elapsed = request(port, "GET", service_["healthCheckPath"], https=False)
        assert status == 200 and body == {"status": "ok"} and elapsed < 5
        # Everything else redirects plain HTTP: Render's proxy marks HTTPS with X-Forwarded-Proto.
        status, _, headers, _ = request(port, "GET", "/api/websocket/health/", https=False)
        assert status == 301 and headers["Location"] == f"https://{HOSTNAME}/api/websocket/health/"
        status, report, _, _ = request(port, "GET", "/api/websocket/health/")
        assert status == 200 and report["status"] == "ok", report

        status, body, _, _ = request(port, "POST", "/api/auth/login/", {"username": "alice", "password": PASSWORD})
        assert status == 200, body
        token = body["token"]

        async with connect(f"ws://{HOSTNAME}/ws/notifications/", host="127.0.0.1", port=port, proxy=None,
                           origin=f"https://{HOSTNAME}", open_timeout=10,
                           additional_headers={"Authorization": f"Token {token}", "X-Forwarded-Proto": "https"}) as ws:
            established = await receive(ws, "connection_established")
            assert established["user"]["username"] == "alice", established
            # A deploy or restart: Render sends SIGTERM; the socket is closed with 1001 (going away).
            os.kill(server.popen.pid, signal.SIGTERM)
            with pytest.raises(ConnectionClosed):
                while True:
                    await receive(ws, timeout=15)
            assert ws.close_code == 1001
        exit_code = await asyncio.to_thread(server.popen.wait, 20)
        assert exit_code == 0, tail(server.log_path, 40)
    finally:
        server.stop()
    log = server.read_log()
    assert f"Listening on TCP address 0.0.0.0:{port}" in log, log[-2000:]
    print(f"render blueprint, run locally: {times}")  # noqa: T201 - shown with -s / in the CI log
