"""Each role's meta/argument_specs.yml matches its defaults, and the roles take the template
variables from ops/defaults.yml itself (a link, not a copy)."""

import shutil

import yaml

from ops import argument_specs
from ops.tools import REPO_DIR

ROLES = sorted(p for p in argument_specs.ROLES_DIR.iterdir() if (p / "defaults" / "main").is_dir())


def test_every_role_has_an_up_to_date_spec():
    assert ROLES
    assert argument_specs.main(["--check"]) == 0


def test_a_stale_spec_is_reported(tmp_path, monkeypatch, capsys):
    roles = tmp_path / "roles"
    shutil.copytree(ROLES[0], roles / ROLES[0].name, symlinks=False)
    spec = roles / ROLES[0].name / "meta" / "argument_specs.yml"
    spec.write_text(spec.read_text().replace("type: int", "type: str", 1))
    monkeypatch.setattr(argument_specs, "ROLES_DIR", roles)
    monkeypatch.setattr(argument_specs, "REPO_DIR", tmp_path)
    assert argument_specs.main(["--check"]) == 1
    assert "out of date" in capsys.readouterr().err


def options_of(role):
    spec = yaml.safe_load((argument_specs.ROLES_DIR / role / "meta" / "argument_specs.yml").read_text())
    return spec["argument_specs"]["main"]["options"]


def test_every_option_is_typed_and_described_and_every_own_default_listed():
    for role in ROLES:
        options = options_of(role.name)
        own = {}
        for path in (role / "defaults" / "main").glob("*.yml"):
            if not path.is_symlink():
                own.update(yaml.safe_load(path.read_text()) or {})
        assert set(own) <= set(options), role.name
        assert all(option["type"] and option["description"] for option in options.values()), role.name


def test_a_role_lists_what_it_uses_and_only_that():
    """Ansible templates every listed variable before a role starts: the redis role must not
    list the database URL (it would fail without the database password), the app role, which
    renders app.env, must list it and what it refers to."""
    app, redis = options_of("app"), options_of("redis")
    assert {"app_database_url", "app_database_user", "app_database_password", "app_redis_url"} <= set(app)
    assert {"daphne_ping_interval", "app_env_file", "systemd_unit_dir"} <= set(app)
    assert "app_database_url" not in redis and "nginx_tls" not in redis
    assert "app_redis_password" in redis
    assert "nginx_ws_read_timeout" in options_of("nginx") and "daphne_socket" in options_of("nginx")


def test_roles_load_the_template_variables_from_ops_defaults():
    """A link, so the roles' defaults cannot drift from what ops.render uses."""
    for role in ROLES:
        link = role / "defaults" / "main" / "ops.yml"
        assert link.is_symlink(), role.name
        assert link.resolve() == (REPO_DIR / "ops" / "defaults.yml").resolve(), role.name
