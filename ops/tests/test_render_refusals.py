"""The renderer refuses what would break a server, every problem in one report with its fix,
never a traceback: unknown names (with a "did you mean"), values of the wrong type, weak and
missing secrets, and every rule."""

import re
import secrets

import pytest

from ops import render
from ops.tests.test_render import SECRETS, run_render
from ops.tools import REPO_DIR


def refused(result):
    """The report's lines, after checking it is a report and nothing else."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    if len(lines) == 1:
        return [lines[0].removeprefix("render: ")]
    assert re.fullmatch(r"render: \d+ problems, nothing was written:", lines[0]), lines[0]
    return [line.removeprefix("  - ") for line in lines[1:]]


def check(tmp_path, text, *targets):
    (tmp_path / "vars.yml").write_text(text)
    return refused(run_render("--check", "--vars", tmp_path / "vars.yml", *targets))


@pytest.mark.process
def test_a_string_where_a_list_is_wanted_is_refused_in_words(tmp_path):
    problems = check(tmp_path, "app_server_names: chat.example.org\n", "nginx", "systemd")
    assert problems == [
        "app_server_names must be a list, e.g. app_server_names: [chat.example.org] (it is 'chat.example.org')"
    ]


# A value of the wrong type, then the range traps: each one problem, the rule's words.
@pytest.mark.parametrize(("text", "problem"), [
    ("daphne_instances: '2'\n", "daphne_instances must be a whole number, e.g. daphne_instances: 2 (it is '2')"),
    ("nginx_reuseport: 'yes'\n", "nginx_reuseport must be true or false, e.g. nginx_reuseport: true (it is 'yes')"),
    ("app_extra_env: [LOG_LEVEL=INFO]\n", "app_extra_env must be a mapping, e.g. app_extra_env: {LOG_LEVEL: INFO}"),
    ("app_name: [chat]\n", "app_name must be a string"),
    ("nginx_trusted_proxies: 10.0.0.0/8\n", "nginx_trusted_proxies must be a list, e.g. nginx_trusted_proxies: "
                                            "[10.0.0.0/8]"),
    ("daphne_tcp_port: '8001'\n", "daphne_tcp_port must be a whole number"),
    ("daphne_instances: 0\n", "daphne_instances is 0: it must be at least 1"),  # not a ZeroDivisionError
    ("http_workers: 0\n", "http_workers is 0: it must be at least 1"),
    ("nginx_http_port: 70000\n", "nginx_http_port is 70000: a port is 1 to 65535"),
    ("daphne_tcp_port: 65535\ndaphne_instances: 2\n", "daphne_tcp_port 65535 + daphne_instances 2 runs past port"),
    ("app_server_names: ['https://chat.example.org']\n", "app_server_names: 'https://chat.example.org' is not a "
                                                         "host name (no scheme, path or port)"),
    ("app_server_names: []\n", "app_server_names is empty"),
    ("daphne_ping_interval: 0\n", "daphne_ping_interval (0 s) must be above 0"),
])
@pytest.mark.process
def test_a_wrong_type_or_range_is_one_problem_in_words(tmp_path, text, problem):
    problems = check(tmp_path, text, "nginx", "systemd")
    assert len(problems) == 1 and problems[0].startswith(problem), problems


@pytest.mark.process
def test_null_stays_allowed_where_the_templates_take_it(tmp_path):
    (tmp_path / "vars.yml").write_text("nginx_user: null\nnginx_temp_dir: null\ndaphne_tcp_port: null\n")
    result = run_render("--check", "--vars", tmp_path / "vars.yml", "nginx", "systemd")
    assert result.returncode == 0, result.stderr


@pytest.mark.process
def test_an_unknown_variable_gets_a_did_you_mean(tmp_path):
    problems = check(tmp_path, "nginx_tsl: false\nzzz_not_close: 1\n", "nginx")
    assert problems == ["unknown variable nginx_tsl: did you mean nginx_tls?",
                        "unknown variable zzz_not_close (every variable is listed in ops/defaults.yml)"]


@pytest.mark.parametrize(("name", "value", "problem"), [
    ("app_secret_key", "abc", "app_secret_key is weak (it is 3 characters long, fewer than 40"),
    ("app_secret_key", "k" * 50, "it has 1 different character, fewer than 10"),
    ("app_secret_key", "django-insecure-" + "0123456789abcdef" * 3, "it is a published development key"),
    ("app_redis_password", "x", "app_redis_password is weak (it is 1 character long, fewer than 16; "
                                "it has 1 different character, fewer than 10)"),
    ("app_database_password", "db-pw", "app_database_password is weak (it is 5 characters long, fewer than 16; "
                                       "it has 5 different characters, fewer than 10)"),
    ("app_redis_password", 123456, "app_redis_password is weak (it is 6 characters long"),
    ("app_redis_password", ["a-list-of-one-password"], "app_redis_password must be a string"),
])
def test_weak_secrets_are_refused_without_printing_them(name, value, problem):
    with pytest.raises(render.RenderError) as caught:
        render.variables_from(overrides={**SECRETS, name: value})
    assert len(caught.value.problems) == 1 and problem in caught.value.problems[0], caught.value.problems
    assert str(value) not in str(caught.value).replace(problem, "")


@pytest.mark.process
def test_every_kind_of_problem_comes_in_one_report(tmp_path):
    """Missing secrets, an unknown name, a type, a weak secret and two rules: one run says all."""
    problems = check(tmp_path, "app_server_names: chat.example.org\ndaphne_instances: 0\nnginx_tsl: false\n"
                               "app_redis_password: x\nnginx_ws_read_timeout: 10\nhttp_keepalive: 5\n")
    starts = ["unknown variable nginx_tsl: did you mean nginx_tls?", "app_server_names must be a list",
              "app_redis_password is weak", "daphne_ping_interval (20 s) must be shorter than nginx_ws_read_timeout",
              "http_keepalive (5 s) must be longer", "daphne_instances is 0",
              "app_secret_key is a secret with no default", "app_database_url cannot be resolved: "
              "app_database_password is a secret with no default"]
    assert [next(p for p in problems if p.startswith(start)) for start in starts]
    assert len(problems) == len(starts), problems
    assert "x\n" not in "\n".join(problems)


@pytest.mark.process
def test_a_template_needing_two_missing_secrets_names_both(tmp_path):
    problems = refused(run_render("--check", "env"))
    assert [problem.split(" (")[0] for problem in problems] == [
        "app_secret_key is a secret with no default",
        "app_database_url cannot be resolved: app_database_password is a secret with no default",
        "app_redis_url cannot be resolved: app_redis_password is a secret with no default",
    ]
    assert all("needed by systemd/app.env.j2; to render the rest without it, name the targets: nginx systemd "
               "container" in problem for problem in problems)


@pytest.mark.process
def test_bad_input_files_and_values_are_reported_not_raised(tmp_path):
    (tmp_path / "list.yml").write_text("- a\n")
    (tmp_path / "broken.yml").write_text("app_name: [unclosed\n")
    problems = refused(run_render("--check", "--vars", tmp_path / "list.yml", "--vars", tmp_path / "broken.yml",
                                  "--vars", tmp_path / "absent.yml", "nginx"))
    assert problems[0] == f"{tmp_path}/list.yml: expected a mapping of variable: value"
    assert problems[1].startswith(f"{tmp_path}/broken.yml: not YAML")
    assert problems[2] == f"{tmp_path}/absent.yml: No such file or directory"
    result = run_render("--check", "--set", "app_server_names=[unclosed")
    assert result.returncode == 2 and "Traceback" not in result.stderr and "the value is not YAML" in result.stderr


@pytest.mark.process
def test_the_readme_check_command_works_as_written(tmp_path):
    """README.md's line, with the vars file ops/README.md shows and a secrets file of its own."""
    readme = (REPO_DIR / "README.md").read_text()
    (line,) = [line for line in readme.splitlines() if "ops.render --check" in line]
    command = line.split("#")[0].split()
    assert command[:3] == [".venv/bin/python", "-m", "ops.render"]
    example = (REPO_DIR / "ops" / "README.md").read_text().split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "my-vars.yml").write_text(example)
    (tmp_path / "secrets.yml").write_text(
        f"app_secret_key: {secrets.token_urlsafe(50)}\napp_redis_password: {secrets.token_urlsafe(24)}\n"
        f"app_database_password: {secrets.token_urlsafe(24)}\n")
    args = [str(tmp_path / arg) if arg.endswith(".yml") else arg for arg in command[3:]]
    result = run_render(*args)
    assert result.returncode == 0 and "render: ok" in result.stdout, result.stderr


@pytest.mark.process
def test_several_wrong_types_are_each_reported_once(tmp_path):
    problems = check(tmp_path, "app_server_names: chat.example.org\ndaphne_instances: two\nhttp_workers: many\n"
                               "nginx_reuseport: 'yes'\n", "nginx", "systemd")
    assert sorted(problem.split(" must be ")[0] for problem in problems) == [
        "app_server_names", "daphne_instances", "http_workers", "nginx_reuseport"], problems


def test_a_mistyped_variable_that_holds_a_secret_is_not_printed():
    password = secrets.token_urlsafe(24)
    _, problems = render.collect(overrides={
        **SECRETS, "app_database_url": [f"postgres://app:{password}@db/app"],
        "app_extra_env": f"SENTRY_DSN=https://{password}@sentry.invalid/1"})
    assert {problem.split(" must be ")[0] for problem in problems} == {"app_database_url", "app_extra_env"}
    assert not [problem for problem in problems if password in problem]


@pytest.mark.parametrize("name", ["app_redis_password", "app_database_password", "app_secret_key"])
def test_a_secret_of_few_different_characters_is_weak(name):
    _, problems = render.collect(overrides={**SECRETS, name: "ab" * 30})
    assert [f"{name} is weak (it has 2 different characters, fewer than 10)"] == [
        problem.split(": generate")[0] for problem in problems]


def test_the_renderer_and_the_settings_apply_the_same_secret_key_rules():
    from config.settings import refusals

    assert render.DEV_SECRET_KEY == refusals.DEV_SECRET_KEY
    assert render.SECRET_MIN_LENGTH["app_secret_key"] == refusals.SECRET_KEY_MIN_LENGTH
    assert render.SECRET_MIN_UNIQUE == refusals.SECRET_KEY_MIN_UNIQUE
