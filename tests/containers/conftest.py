"""Fixtures of the container tests: podman ready, the base images (official ones named by
PYTHON_IMAGE, NGINX_IMAGE, REDIS_IMAGE and POSTGRES_IMAGE when all four are set, else the local
stand-ins of images/build.sh, as in CI), and the two images built from the Dockerfile.

Figures (build times, context and image sizes, `up` time) go to
test-artifacts/container-figures.txt."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ops.testing.artifacts import append_line
from ops.testing.tools import prepared_environment, require_tool
from ops.tools import REPO_DIR

HERE = Path(__file__).resolve().parent
BASE_IMAGES = ("PYTHON_IMAGE", "NGINX_IMAGE", "REDIS_IMAGE", "POSTGRES_IMAGE")
APP_IMAGE = "localhost/channels-stack-test:latest"
PROXY_IMAGE = "localhost/channels-stack-nginx-test:latest"
SERVER_NAME = "chat.example.test"
# pip inside the build trusts this bundle (the Dockerfile's optional "ca" build secret): the
# machine's own, which is what a TLS-inspecting proxy's users pass too.
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")


def figure(line):
    append_line("container-figures.txt", line)


def run(env, *command, timeout=600, check=True):
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    if check:
        assert result.returncode == 0, f"{' '.join(map(str, command))}: rc={result.returncode}\n" \
                                       f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result


@pytest.fixture(scope="session")
def podman_env():
    """The environment podman and podman-compose run with (CONTAINERS_CONF, the base images)."""
    require_tool("podman", "the images are built and the compose file is booted with podman")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    if all(name in os.environ for name in BASE_IMAGES):
        script = REPO_DIR / "ansible" / "molecule" / "prepare-host.sh"  # CONTAINERS_CONF only
    else:
        require_tool("debootstrap", "no registry is reachable: the base images are built from Debian's packages")
        script = HERE / "images" / "build.sh"
    started = time.monotonic()
    env = prepared_environment(script, env, timeout=1800)
    figure(f"base images ({script.name}): {time.monotonic() - started:.0f} s")
    return env


def podman(env, *args, **kwargs):
    return run(env, "podman", *args, **kwargs)


def image_size(env, image):
    return int(podman(env, "image", "inspect", "--format", "{{.Size}}", image).stdout)


@pytest.fixture(scope="session")
def images(podman_env):
    """The app image and the nginx image, built as README.md says (--format docker keeps the
    HEALTHCHECK; the host's CA bundle as the "ca" build secret)."""
    env = podman_env
    secret = ["--secret", f"id=ca,src={HOST_CA}"] if HOST_CA.is_file() else []
    build = ["build", "--format", "docker", *secret, "--build-arg", f"PYTHON_IMAGE={env['PYTHON_IMAGE']}"]
    started = time.monotonic()
    podman(env, *build, "-t", APP_IMAGE, str(REPO_DIR), timeout=1200)
    app_seconds = time.monotonic() - started
    podman(env, *build, "--target", "nginx", "--build-arg", f"NGINX_IMAGE={env['NGINX_IMAGE']}",
           "--build-arg", f"SERVER_NAMES={SERVER_NAME}", "-t", PROXY_IMAGE, str(REPO_DIR), timeout=1200)
    proxy_seconds = time.monotonic() - started - app_seconds
    figure(f"app image: built in {app_seconds:.0f} s, {image_size(env, APP_IMAGE) / 1e6:.0f} MB "
           f"(base {env['PYTHON_IMAGE']}: {image_size(env, env['PYTHON_IMAGE']) / 1e6:.0f} MB)")
    figure(f"nginx image: built in {proxy_seconds:.0f} s, {image_size(env, PROXY_IMAGE) / 1e6:.0f} MB "
           f"(base {env['NGINX_IMAGE']}: {image_size(env, env['NGINX_IMAGE']) / 1e6:.0f} MB)")
    return {"app": APP_IMAGE, "proxy": PROXY_IMAGE}
