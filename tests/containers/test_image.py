"""The app image built from the Dockerfile: not root, no compiler, no renderer, the units'
command lines, production settings that pass `check --deploy`; the build context is small."""

import secrets
import subprocess

from ops import render
from ops.tools import REPO_DIR

from .conftest import figure, podman

PRODUCTION_ENV = {
    "SECRET_KEY": secrets.token_urlsafe(50),
    "REDIS_URL": "redis://:unused@redis:6379/0",
    "DATABASE_URL": "postgres://unused:unused@postgres:5432/unused",
    "ALLOWED_HOSTS": "chat.example.test",
}


def in_image(env, image, *command, entrypoint="sh", check=True):
    """command in a throwaway container of image, root file system read-only as in compose."""
    return podman(env, "run", "--rm", "--read-only", "--tmpfs", "/tmp", "--entrypoint", entrypoint, image,
                  *command, check=check)


def test_runs_as_a_fixed_non_root_user(podman_env, images):
    identity = in_image(podman_env, images["app"], "-c", "id").stdout.strip()
    assert identity == "uid=10001(app) gid=10001(app) groups=10001(app)"
    user = podman(podman_env, "image", "inspect", "--format", "{{.Config.User}}", images["app"]).stdout.strip()
    assert user == "app"


def test_has_no_compiler_and_no_renderer(podman_env, images):
    compilers = in_image(podman_env, images["app"], "-c",
                         "for tool in gcc cc c++ g++ make; do command -v $tool; done; true")
    assert compilers.stdout == ""
    assert in_image(podman_env, images["app"], "-c", "ls /app").stdout.split() == ["app", "bin", "static", "venv"]
    jinja = in_image(podman_env, images["app"], "-c", "import jinja2", entrypoint="/app/venv/bin/python", check=False)
    assert "No module named 'jinja2'" in jinja.stderr


def test_code_is_read_only_to_the_app_user(podman_env, images):
    result = in_image(podman_env, images["app"], "-c", "touch /app/app/manage.py", check=False)
    assert result.returncode != 0 and "Permission denied" in result.stderr


def test_entrypoint_is_the_rendered_one(podman_env, images):
    """The image carries what ops.render makes of systemd/container-entrypoint.sh.j2 with
    ops/container.yml: the units' command lines, never retyped."""
    shipped = in_image(podman_env, images["app"], "/app/bin/entrypoint", entrypoint="cat").stdout
    variables = render.variables_from([REPO_DIR / "ops" / "container.yml"])
    (output,) = render.outputs(variables, ("container",))
    assert shipped == render.render_text(variables, output)


def test_check_deploy_passes_with_production_settings(podman_env, images):
    env_args = [arg for key, value in PRODUCTION_ENV.items() for arg in ("-e", f"{key}={value}")]
    result = podman(podman_env, "run", "--rm", "--read-only", "--tmpfs", "/tmp", *env_args, images["app"],
                    "manage", "check", "--deploy", "--fail-level", "WARNING")
    assert "System check identified no issues" in result.stdout


def test_missing_secret_is_refused_in_plain_words(podman_env, images):
    env_args = [arg for key, value in PRODUCTION_ENV.items() if key != "SECRET_KEY" for arg in ("-e", f"{key}={value}")]
    result = podman(podman_env, "run", "--rm", *env_args, images["app"], "manage", "check", check=False)
    assert result.returncode != 0 and "SECRET_KEY is not set" in result.stderr


def test_unknown_role_prints_the_usage(podman_env, images):
    result = podman(podman_env, "run", "--rm", images["app"], "runserver", check=False)
    assert result.returncode == 64 and "usage: entrypoint daphne | http | migrate" in result.stderr


def test_image_declares_its_healthcheck_and_stop_signal(podman_env, images):
    config = podman(podman_env, "image", "inspect", "--format",
                    "{{.Config.Healthcheck.Test}} {{.Config.StopSignal}} {{.Config.Entrypoint}}", images["app"]).stdout
    assert config.split() == ["[CMD", "/app/bin/entrypoint", "healthcheck]", "SIGTERM", "[/app/bin/entrypoint]"]


def test_build_context_is_small_and_holds_no_local_state(podman_env, tmp_path):
    """What .dockerignore lets into the context: copied whole into a probe image and listed."""
    probe = tmp_path / "Containerfile"
    probe.write_text(f"FROM {podman_env['PYTHON_IMAGE']}\nCOPY . /context\n"
                     "RUN cd /context && du -sb . && find . -type f | sort\n")
    result = podman(podman_env, "build", "--no-cache", "-f", str(probe), "-t", "localhost/channels-stack-context-probe",
                    str(REPO_DIR))
    subprocess.run(["podman", "rmi", "-f", "localhost/channels-stack-context-probe"], env=podman_env,
                   capture_output=True)
    lines = result.stdout.splitlines()
    size = next(int(line.split()[0]) for line in lines if line.endswith("\t.") or line.endswith(" ."))
    files = [line for line in lines if line.startswith("./")]
    figure(f"build context: {size / 1e6:.2f} MB, {len(files)} files")
    for unwanted in ("./.git/", "./.venv/", "./test-artifacts/", "./tests/", "./ansible/", "/__pycache__/",
                     "./app/db.sqlite3", "/.env", "/tests/"):
        assert not [f for f in files if unwanted in f], unwanted
    assert "./app/manage.py" in files and "./systemd/_commands.j2" in files
    assert size < 3_000_000, f"{size} bytes"
