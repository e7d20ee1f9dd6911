"""Render the nginx/ and systemd/ templates: the one source of those configs.

Ansible, the container build, the local stack and the tests render the same files. By hand:

    python -m ops.render --out DIR [--vars FILE ...] [--set KEY=VALUE ...] [nginx] [systemd] [env]
    python -m ops.render --install [--vars FILE ...]       # to each file's installed path
    python -m ops.render --install --destdir DIR ...       # the same, under DIR (an image's build)
    python -m ops.render --check --vars FILE               # the rules only; writes nothing

Variables: ops/defaults.yml, then each --vars file (`-` is standard input: secrets need not
touch the disk), then each --set (its value is read as YAML). What is rendered and where it
goes: ops/outputs.yml. An unknown variable, a variable a template needs that nobody set, and a
combination that breaks WebSockets are errors that say what to change.
"""

import argparse
import ipaddress
import re
import sys
from pathlib import Path

import jinja2
import yaml

from ops import variables as resolver

OPS_DIR = Path(__file__).resolve().parent
REPO_DIR = OPS_DIR.parent
DEFAULTS_FILE = OPS_DIR / "defaults.yml"
OUTPUTS_FILE = OPS_DIR / "outputs.yml"
APP_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
UPSTREAM_SERVER = re.compile(r"^(unix:/\S+|[A-Za-z0-9.-]+:\d+|\[[0-9A-Fa-f:.]+\]:\d+)$")


class RenderError(Exception):
    pass


def load_yaml(path):
    return yaml.safe_load(Path(path).read_text()) or {}


MANIFEST = load_yaml(OUTPUTS_FILE)
DEFAULTS = load_yaml(DEFAULTS_FILE)
SECRETS = MANIFEST["secrets"]
TARGETS = tuple(dict.fromkeys(output["target"] for output in MANIFEST["outputs"]))


def defaults():
    """The defaults as written (unresolved), a fresh copy."""
    return yaml.safe_load(yaml.safe_dump(DEFAULTS))


def read_vars_file(path):
    text = sys.stdin.read() if str(path) == "-" else Path(path).read_text()
    loaded = yaml.safe_load(text) or {}
    if not isinstance(loaded, dict):
        raise RenderError(f"{path}: expected a mapping of variable: value")
    return loaded


def variables_from(vars_files=(), overrides=None):
    """Defaults, then vars files, then overrides; resolved and checked."""
    raw = defaults()
    for path in vars_files:
        raw.update(read_vars_file(path))
    raw.update(overrides or {})
    unknown = set(raw) - set(DEFAULTS) - set(SECRETS)
    if unknown:
        raise RenderError(f"unknown variable(s) {sorted(unknown)}: every variable is listed in ops/defaults.yml")
    hints = {
        name: f"{name} is a secret with no default ({what}): give it in a vars file kept out of git "
        f"(--vars secrets.yml, or --vars - on standard input) or in Ansible Vault"
        for name, what in SECRETS.items()
    }
    try:
        variables = resolver.resolve(raw, hints)
    except resolver.VariableError as error:
        raise RenderError(str(error)) from error
    check(variables)
    return variables


def _value(variables, name):
    value = variables[name]
    if isinstance(value, jinja2.Undefined):
        str(value)  # raises with the reason
    return value


def check(variables):
    """Relations between variables that no single template can see. `--check` runs these,
    so Ansible's preflight uses this implementation, not a copy."""
    try:
        _check(variables)
    except jinja2.UndefinedError as error:
        raise RenderError(str(error)) from error


def _check(variables):
    def get(name):
        return _value(variables, name)

    ping = get("daphne_ping_interval")
    for name in ("nginx_ws_read_timeout", "nginx_ws_send_timeout"):
        if not ping < get(name):
            raise RenderError(
                f"daphne_ping_interval ({ping} s) must be shorter than {name} ({get(name)} s): "
                f"otherwise nginx closes idle WebSockets (close code 1006) before daphne's ping keeps them busy."
            )
    choices_of = {"websocket_server": ("daphne", "uvicorn"), "app_channel_layer": ("redis", "redis-pubsub")}
    for name, choices in choices_of.items():
        if get(name) not in choices:
            raise RenderError(f"{name} is {get(name)!r}: choose one of {', '.join(choices)}")
    if not get("http_keepalive") > get("nginx_upstream_keepalive_timeout"):
        raise RenderError(
            f"http_keepalive ({get('http_keepalive')} s) must be longer than nginx_upstream_keepalive_timeout "
            f"({get('nginx_upstream_keepalive_timeout')} s): otherwise the HTTP server closes idle connections "
            "nginx is about to reuse, and requests fail with 502."
        )
    if int(get("app_max_sockets")) < 1:
        raise RenderError("app_max_sockets must be at least 1 (the WebSockets one host is sized for)")
    if int(get("daphne_instances")) < 1:
        raise RenderError("daphne_instances must be at least 1")
    if not APP_NAME.match(str(get("app_name"))):
        raise RenderError(
            f"app_name {get('app_name')!r} must be lower-case letters, digits and '-' (it names files, units "
            f"and nginx zones)"
        )
    if get("nginx_tls") and not get("app_https"):
        raise RenderError("nginx_tls is on but app_https is off: a site nginx serves over TLS is an HTTPS site")
    for name in ("nginx_daphne_servers", "nginx_http_servers"):
        for server in get(name):
            if not UPSTREAM_SERVER.match(str(server)):
                raise RenderError(f"{name}: {server!r} is neither host:port nor unix:/path")
    daphne_port, http_port = get("daphne_tcp_port"), get("http_tcp_port")
    if daphne_port is not None and http_port is not None:
        daphne_ports = range(daphne_port, daphne_port + get("daphne_instances"))
        same_address = _same_address(get("daphne_tcp_address"), get("http_tcp_address"))
        if same_address and http_port in daphne_ports:
            raise RenderError(
                f"http_tcp_port {http_port} is one of the daphne ports {daphne_ports.start}-{daphne_ports.stop - 1}"
            )


def _same_address(first, second):
    try:
        a, b = ipaddress.ip_address(first), ipaddress.ip_address(second)
    except ValueError:
        return first == second
    return a == b or a.is_unspecified or b.is_unspecified


def outputs(variables, targets=TARGETS):
    """The entries of ops/outputs.yml for targets, with name and dest resolved."""
    env = resolver.environment()
    chosen = []
    for entry in MANIFEST["outputs"]:
        if entry["target"] not in targets:
            continue
        try:
            chosen.append({
                key: env.from_string(value).render(variables) if resolver.is_template(value) else value
                for key, value in entry.items()
            })
        except jinja2.UndefinedError as error:
            raise RenderError(f"ops/outputs.yml, {entry['template']}: {error}") from error
    return chosen


def environment(template_dir):
    return resolver.environment(jinja2.FileSystemLoader(template_dir))


def render_text(variables, output):
    """The text of one output entry."""
    template = REPO_DIR / output["template"]
    try:
        return environment(template.parent).get_template(template.name).render(variables)
    except jinja2.UndefinedError as error:
        others = [target for target in TARGETS if target != output["target"]]
        raise RenderError(
            f"{output['template']}: {error}. (To render the rest without it, name the targets: {' '.join(others)}.)"
        ) from error


def render(variables, out_dir=None, targets=TARGETS, destdir=None):
    """Render every output of targets: into out_dir by name, or (out_dir None) to each dest
    (below destdir when given, as DESTDIR does for `make install`), with the mode
    ops/outputs.yml gives it. Returns {name: path}."""
    written = {}
    rendered = [(output, render_text(variables, output)) for output in outputs(variables, targets)]
    for output, text in rendered:  # all rendered before any is written: no half-installed set
        if out_dir is not None:
            path = Path(out_dir) / output["name"]
        else:
            path = Path(destdir or "/") / output["dest"].lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)  # private while written: app.env holds secrets
        path.chmod(0o600)
        path.write_text(text)
        path.chmod(int(output["mode"], 8))
        written[output["name"]] = path
    return written


def parse_set(item):
    key, sep, value = item.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"--set {item!r}: expected KEY=VALUE")
    return key, yaml.safe_load(value)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m ops.render",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
    )
    parser.add_argument("targets", nargs="*", choices=[*TARGETS, []], help=f"default: all ({', '.join(TARGETS)})")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", help="directory for the rendered files")
    where.add_argument("--install", action="store_true", help="write each file to its installed path (dest)")
    where.add_argument("--check", action="store_true", help="check the variables and render in memory only")
    parser.add_argument("--vars", action="append", default=[], help="YAML file of variables (repeatable; - for stdin)")
    parser.add_argument("--set", action="append", default=[], type=parse_set, metavar="KEY=VALUE")
    parser.add_argument("--destdir", help="with --install: below this directory (each dest is under it)")
    args = parser.parse_args(argv)
    if args.destdir and not args.install:
        parser.error("--destdir goes with --install")
    targets = tuple(args.targets) or TARGETS
    try:
        variables = variables_from(args.vars, dict(args.set))
        if args.check:
            for output in outputs(variables, targets):
                render_text(variables, output)
            print(f"render: ok ({', '.join(targets)})")
            return 0
        written = render(variables, None if args.install else args.out, targets, args.destdir)
    except (RenderError, OSError, yaml.YAMLError) as error:
        print(f"render: {error}", file=sys.stderr)
        return 2
    for path in written.values():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
