"""Render the nginx/ and systemd/ templates: the one source of those configs.

Ansible, the container build, the local stack and the tests render the same files. By hand:

    python -m ops.render --out /tmp/rendered [--vars my-vars.yml] [--set nginx_tls=false] [nginx] [systemd]

Variables: nginx/defaults.yml + systemd/defaults.yml, then each --vars file, then each --set
(its value is read as YAML). A variable a template uses but nobody set is an error.
"""

import argparse
import sys
from pathlib import Path

import jinja2
import yaml

REPO_DIR = Path(__file__).resolve().parents[2]
TEMPLATE_DIRS = {"nginx": REPO_DIR / "nginx", "systemd": REPO_DIR / "systemd"}


class RenderError(Exception):
    pass


def defaults():
    variables = {}
    for directory in TEMPLATE_DIRS.values():
        variables.update(yaml.safe_load((directory / "defaults.yml").read_text()))
    return variables


def variables_from(vars_files=(), overrides=None):
    known = defaults()
    variables = dict(known)
    for path in vars_files:
        loaded = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(loaded, dict):
            raise RenderError(f"{path}: expected a mapping of variable: value")
        variables.update(loaded)
    variables.update(overrides or {})
    unknown = set(variables) - set(known)
    if unknown:
        raise RenderError(f"unknown variable(s) {sorted(unknown)}: see nginx/defaults.yml and systemd/defaults.yml")
    check(variables)
    return variables


def check(variables):
    """Relations between variables that no single template can see."""
    ping = variables["daphne_ping_interval"]
    for name in ("nginx_ws_read_timeout", "nginx_ws_send_timeout"):
        if not ping < variables[name]:
            raise RenderError(
                f"daphne_ping_interval ({ping} s) must be shorter than {name} ({variables[name]} s): "
                f"otherwise nginx closes idle WebSockets (close code 1006) before daphne's ping keeps them busy."
            )
    if int(variables["daphne_instances"]) < 1:
        raise RenderError("daphne_instances must be at least 1")


def output_name(template, app_name):
    """app.conf.j2 -> <app_name>.conf, app-daphne@.service.j2 -> <app_name>-daphne@.service."""
    name = template.name.removesuffix(".j2")
    if name == "app" or name.startswith(("app.", "app-")):
        name = app_name + name[3:]
    return name


def templates(target):
    """The templates of nginx/ or systemd/; _name.j2 files are macros, not outputs."""
    return sorted(p for p in TEMPLATE_DIRS[target].glob("*.j2") if not p.name.startswith("_"))


def environment(target):
    # Ansible's template module defaults: trim_blocks on, lstrip_blocks off.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIRS[target]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - config files, not HTML
    )


def render(variables, out_dir, targets=tuple(TEMPLATE_DIRS)):
    """Render every template of targets into out_dir; returns {output name: path}."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for target in targets:
        env = environment(target)
        for template in templates(target):
            try:
                text = env.get_template(template.name).render(variables)
            except jinja2.UndefinedError as error:
                raise RenderError(f"{template.relative_to(REPO_DIR)}: {error}") from error
            path = out_dir / output_name(template, variables["app_name"])
            path.write_text(text)
            written[path.name] = path
    return written


def parse_set(item):
    key, sep, value = item.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"--set {item!r}: expected KEY=VALUE")
    return key, yaml.safe_load(value)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m ops.render", description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", choices=[*TEMPLATE_DIRS, []], help="default: both")
    parser.add_argument("--out", required=True, help="directory for the rendered files")
    parser.add_argument("--vars", action="append", default=[], help="YAML file of variables (repeatable)")
    parser.add_argument("--set", action="append", default=[], type=parse_set, metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    try:
        variables = variables_from(args.vars, dict(args.set))
        written = render(variables, args.out, args.targets or tuple(TEMPLATE_DIRS))
    except (RenderError, OSError, yaml.YAMLError) as error:
        print(f"render: {error}", file=sys.stderr)
        return 2
    for path in written.values():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
