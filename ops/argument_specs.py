"""Write each Ansible role's meta/argument_specs.yml from its defaults: `make argument-specs`.

A role's defaults are `defaults/main/*.yml` (ops.yml is a link to ops/defaults.yml, the rest is
the role's own). The spec lists the variables the role uses: its own, and those of ops/defaults.yml
that its tasks, handlers and templates name, or that the nginx/ and systemd/ templates it renders
name (with what their defaults refer to). Each is typed from its resolved default and described by
the comment lines right above it, so the specs can never fall out of step with the defaults: a
test runs this with --check. (Ansible templates every listed variable before the role starts, so
listing one the role never uses would make, say, the redis role fail on a database URL.)

    python -m ops.argument_specs [--check]
"""

import argparse
import re
import sys
from pathlib import Path

import jinja2
import jinja2.meta
import yaml

from ops import render, variables
from ops.tools import REPO_DIR

ROLES_DIR = REPO_DIR / "ansible" / "roles"
HEADER = "# Written by `python -m ops.argument_specs` from defaults/main/*.yml: edit those, not this.\n"
KEY = re.compile(r"^([a-z][a-z0-9_]*):")
SECTION = re.compile(r"^#\s*-{2,}")
PYTHON_TYPES = {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "dict"}
# Variables whose default is null: what they hold when set.
NULLABLE_TYPES = {
    "daphne_tcp_port": "int", "http_tcp_port": "int", "nginx_user": "str", "nginx_temp_dir": "str",
}


def described_keys(path):
    """{variable: description} from the comment lines directly above each top-level key (keys
    on consecutive lines share the comment above the first)."""
    described, comments, after_key = {}, [], False
    for line in Path(path).read_text().splitlines():
        match = KEY.match(line)
        if match:
            described[match.group(1)] = " ".join(comments).strip()
            after_key = True
        elif line.startswith("#") and not SECTION.match(line):
            comments = [*([] if after_key else comments), line.lstrip("#").strip()]
            after_key = False
        elif not line.startswith(" "):  # a blank line or a section title ends the comment
            comments, after_key = [], False
    return described


def type_of(name, value, written):
    if value is None:
        return NULLABLE_TYPES.get(name, "raw")
    if isinstance(value, jinja2.Undefined):
        # Only Ansible can resolve it: text around a reference is a string; one whole
        # expression could be anything.
        return "raw" if variables.WHOLE_EXPRESSION.match(str(written).strip()) else "str"
    return PYTHON_TYPES.get(type(value), "raw")


def resolve_what_jinja_can(raw):
    """Resolved defaults; a value only Ansible can resolve (its own filters, hostvars, facts)
    stays unresolved and is typed raw."""
    env = variables.environment()
    ansible_only = set()
    for name, value in raw.items():
        if variables.is_template(value):
            try:
                env.from_string(value)
            except jinja2.TemplateError:
                ansible_only.add(name)
    placeholders = {name: "secret" for name in render.SECRETS}
    plain = {name: value for name, value in raw.items() if name not in ansible_only}
    resolved = variables.resolve({**placeholders, **plain})
    return {**resolved, **{name: jinja2.StrictUndefined(name=name) for name in ansible_only}}


IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
TARGET_NAME = re.compile(r"""['"](%s)['"]""")


def used_names(role_dir, raw):
    """The variables the role uses: named in its own files, or in the templates it renders
    (an output's template path or its target quoted in the role's files), then everything their
    defaults refer to."""
    own = [p for part in ("tasks", "handlers", "templates", "vars", "files") for p in (role_dir / part).rglob("*")
           if p.is_file()]
    text = "\n".join(p.read_text(errors="replace") for p in own)
    targets = set(re.findall(TARGET_NAME.pattern % "|".join(render.TARGETS), text))
    for output in render.MANIFEST["outputs"]:
        if output["template"] in text or output["target"] in targets:
            template_dir = REPO_DIR / output["template"]
            text += "\n".join(p.read_text() for p in template_dir.parent.glob("*.j2"))
            text += "\n" + " ".join(str(value) for value in output.values())  # its name, dest, group
    names = set(IDENTIFIER.findall(text)) & (set(raw) | set(render.SECRETS))
    env = variables.environment()
    pending = list(names)
    while pending:
        value = raw.get(pending.pop())
        for item in (value if isinstance(value, list) else [value]):
            if variables.is_template(item):
                try:
                    referred = jinja2.meta.find_undeclared_variables(env.parse(item))
                except jinja2.TemplateError:
                    referred = set(IDENTIFIER.findall(item))
                for name in (referred & (set(raw) | set(render.SECRETS))) - names:
                    names.add(name)
                    pending.append(name)
    own_defaults = set()
    for path in (role_dir / "defaults" / "main").glob("*.yml"):
        if not path.is_symlink():
            own_defaults |= set(yaml.safe_load(path.read_text()) or {})
    return names | own_defaults


def spec_for(role_dir):
    files = sorted((role_dir / "defaults" / "main").glob("*.yml"))
    raw, descriptions = {}, {}
    for path in files:
        raw.update(yaml.safe_load(path.read_text()) or {})
        descriptions.update(described_keys(path))
    resolved = resolve_what_jinja_can(raw)
    used = used_names(role_dir, raw)
    options = {}
    for name in (name for name in raw if name in used):
        if not descriptions.get(name):
            raise SystemExit(f"{role_dir.name}: {name} has no comment above it in defaults/main/: describe it there")
        options[name] = {"type": type_of(name, resolved[name], raw[name]), "required": False,
                         "description": descriptions[name]}
        if options[name]["type"] == "list":
            options[name]["elements"] = "raw"
    for name, what in ((name, what) for name, what in render.SECRETS.items() if name in used):
        options[name] = {"type": "str", "required": False, "no_log": True,
                         "description": f"Secret, no default: {what}. Required by the tasks that use it."}
    readme = (role_dir / "README.md").read_text().splitlines() if (role_dir / "README.md").exists() else []
    title = next((line.lstrip("# ").strip() for line in readme if line.startswith("# ")), role_dir.name)
    return {"argument_specs": {"main": {"short_description": title, "options": options}}}


def text_for(role_dir):
    return HEADER + "---\n" + yaml.safe_dump(spec_for(role_dir), sort_keys=False, width=120)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m ops.argument_specs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if a written spec is out of date")
    args = parser.parse_args(argv)
    stale = []
    for role_dir in sorted(p for p in ROLES_DIR.iterdir() if (p / "defaults" / "main").is_dir()):
        path = role_dir / "meta" / "argument_specs.yml"
        text = text_for(role_dir)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path.relative_to(REPO_DIR)))
            continue
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        print(path.relative_to(REPO_DIR))
    if stale:
        print(f"out of date (run `make argument-specs`): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
