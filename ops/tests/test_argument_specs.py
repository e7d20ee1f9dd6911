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


def test_every_default_is_typed_and_described():
    for role in ROLES:
        spec = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())
        options = spec["argument_specs"]["main"]["options"]
        defaults = {}
        for path in (role / "defaults" / "main").glob("*.yml"):
            defaults.update(yaml.safe_load(path.read_text()) or {})
        assert set(defaults) <= set(options), role.name
        assert all(option["type"] and option["description"] for option in options.values()), role.name


def test_roles_load_the_template_variables_from_ops_defaults():
    """A link, so the roles' defaults cannot drift from what ops.render uses."""
    for role in ROLES:
        link = role / "defaults" / "main" / "ops.yml"
        assert link.is_symlink(), role.name
        assert link.resolve() == (REPO_DIR / "ops" / "defaults.yml").resolve(), role.name
