"""Render the nginx/ and systemd/ templates: the one source of those configs.

Ansible, the container build, the local stack and the tests render the same files. By hand:

    python -m ops.render --out DIR [--vars FILE ...] [--set KEY=VALUE ...] [nginx] [systemd] [env]
    python -m ops.render --install [--vars FILE ...]       # to each file's installed path
    python -m ops.render --install --destdir DIR ...       # the same, under DIR (an image's build)
    python -m ops.render --check --vars FILE               # the rules only; writes nothing

Variables: ops/defaults.yml, then each --vars file (`-` is standard input: secrets need not
touch the disk), then each --set (its value is read as YAML). What is rendered and where it
goes: ops/outputs.yml. An unknown variable, a value of the wrong type, a weak or missing secret
and a combination that breaks WebSockets are errors that say what to change, all of them in one
report, before anything is written.
"""

import argparse
import difflib
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
# A name nginx's server_name and Django's ALLOWED_HOSTS both take: no scheme, path or port.
SERVER_NAME = re.compile(r"^(\*\.|\.)?[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$|^\[[0-9A-Fa-f:.]+\]$")
UPSTREAM_SERVER = re.compile(r"^(unix:/\S+|[A-Za-z0-9.-]+:\d+|\[[0-9A-Fa-f:.]+\]:\d+)$")


class RenderError(Exception):
    """Every problem found, each one line saying what to change."""

    def __init__(self, problems):
        self.problems = [problems] if isinstance(problems, str) else list(dict.fromkeys(problems))
        super().__init__("\n".join(self.problems))

    def report(self):
        if len(self.problems) == 1:
            return f"render: {self.problems[0]}"
        lines = "".join(f"\n  - {problem}" for problem in self.problems)
        return f"render: {len(self.problems)} problems, nothing was written:{lines}"


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


# Variables whose default is null: what they hold when set (null stays allowed).
NULLABLE_TYPES = {
    "daphne_tcp_port": int, "http_tcp_port": int, "nginx_user": str, "nginx_temp_dir": str,
    "nginx_upstream_connect_timeout": str,
}
# Variables with a value by default whose templates also take null ("leaves the directive out").
ALSO_NULL = {"nginx_user", "nginx_temp_dir", "nginx_upstream_connect_timeout"}
TYPE_WORDS = {list: "a list", dict: "a mapping", bool: "true or false", int: "a whole number", str: "a string",
              float: "a number"}
# Render's and Django's bar for SECRET_KEY (app/config/settings/refusals.py says why 40), and the
# Ansible redis and postgresql roles' for the passwords.
SECRET_MIN_LENGTH = {"app_secret_key": 40, "app_redis_password": 16, "app_database_password": 16}
SECRET_MIN_UNIQUE = 10
DEV_SECRET_KEY = "dev-only-insecure-key-never-used-in-production"
# Variables that carry a secret inside them (a URL with the password, the app's extra
# environment: SENTRY_DSN, MONITORING_TOKEN): a problem never prints their value either.
HOLDS_SECRETS = {"app_redis_url", "app_database_url", "app_extra_env"}
GENERATE = {
    "app_secret_key": "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'",
    "app_redis_password": "python3 -c 'import secrets; print(secrets.token_urlsafe(24))'",
    "app_database_password": "python3 -c 'import secrets; print(secrets.token_urlsafe(24))'",
}


def _expected_types():
    """{name: type} from each default's resolved value (the type Ansible's argument specs give)."""
    placeholders = {name: "x" * 64 for name in SECRETS}
    resolved = resolver.resolve({**placeholders, **DEFAULTS})
    expected = {name: str for name in SECRETS}
    for name in DEFAULTS:
        value = resolved[name]
        if value is None:
            if name in NULLABLE_TYPES:
                expected[name] = NULLABLE_TYPES[name]
        elif not isinstance(value, jinja2.Undefined):
            expected[name] = type(value)
    return expected


EXPECTED_TYPES = _expected_types()


def _has_type(value, wanted):
    if wanted is bool:
        return isinstance(value, bool)
    if wanted is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if wanted is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if wanted is str:  # a number reads the same in a config file (Ansible's str type converts it too)
        return isinstance(value, (str, int, float)) and not isinstance(value, bool)
    return isinstance(value, wanted)


def _example(name, value, wanted):
    if wanted is list and isinstance(value, str):
        items = [item for item in re.split(r"[,\s]+", value) if item]
        return f"[{', '.join(items)}]"
    default = DEFAULTS.get(name)
    if wanted is list:
        return yaml.safe_dump(default if isinstance(default, list) and default else ["..."],
                              default_flow_style=True).strip()
    if wanted is dict:
        return "{LOG_LEVEL: INFO}" if name == "app_extra_env" else "{key: value}"
    if wanted is bool:
        return "true" if default is True else "false"
    if isinstance(default, wanted) and not resolver.is_template(default):
        return yaml.safe_dump(default, default_flow_style=True).removesuffix("\n...\n").strip()
    return {int: "8001", str: "'text'", float: "1.5"}.get(wanted, "...")


def type_problems(variables, given):
    """{name: problem} for each value given whose type differs from its default's (a default
    derived from a mistyped one is not reported again)."""
    found = {}
    for name, wanted in EXPECTED_TYPES.items():
        value = variables.get(name)
        if name not in given or isinstance(value, jinja2.Undefined) or _has_type(value, wanted):
            continue
        if value is None and (name in NULLABLE_TYPES or name in ALSO_NULL):
            continue
        shown = "a value of another type" if name in SECRETS or name in HOLDS_SECRETS else f"{value!r}"
        found[name] = (f"{name} must be {TYPE_WORDS[wanted]}, e.g. {name}: {_example(name, value, wanted)} "
                       f"(it is {shown})")
    return found


def secret_problems(variables):
    """Weak secrets (never printing one); a secret nobody gave is the templates' concern."""
    found = []
    for name, minimum in SECRET_MIN_LENGTH.items():
        value = variables.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # a number in YAML is still a password, and as short as its digits
        if not isinstance(value, str):
            continue
        why = []
        if name == "app_secret_key" and (value == DEV_SECRET_KEY or value.startswith("django-insecure-")):
            why.append("it is a published development key")
        if len(set(value)) < SECRET_MIN_UNIQUE:
            unique = len(set(value))
            why.append(f"it has {unique} different character{'s' if unique != 1 else ''}, "
                       f"fewer than {SECRET_MIN_UNIQUE}")
        if len(value) < minimum:
            why.insert(0, f"it is {len(value)} character{'s' if len(value) != 1 else ''} long, fewer than {minimum}")
        if why:
            found.append(f"{name} is weak ({'; '.join(why)}): generate one with {GENERATE[name]}")
    return found


def unknown_problems(raw):
    known = [*DEFAULTS, *SECRETS]
    found = {}
    for name in sorted(set(raw) - set(known)):
        close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.7)
        hint = f": did you mean {close[0]}?" if close else " (every variable is listed in ops/defaults.yml)"
        found[name] = f"unknown variable {name}{hint}"
    return found


def collect(vars_files=(), overrides=None):
    """(variables, problems): defaults, then vars files, then overrides, resolved, with every
    problem of the variables found (unknown names, types, weak secrets, the rules). variables is
    None when they cannot be resolved at all (a reference loop)."""
    problems = []
    raw = defaults()
    for path in vars_files:
        try:
            raw.update(read_vars_file(path))
        except RenderError as error:
            problems.extend(error.problems)
        except OSError as error:
            problems.append(f"{path}: {error.strerror or error}")
        except yaml.YAMLError as error:
            problems.append(f"{path}: not YAML ({' '.join(str(error).split())})")
    raw.update(overrides or {})
    given = {name for name, value in raw.items() if name not in DEFAULTS or value != DEFAULTS[name]}
    unknown = unknown_problems(raw)
    problems.extend(unknown.values())
    for name in unknown:  # reported; the rest is still checked
        del raw[name]
    hints = {
        name: f"{name} is a secret with no default ({what}): give it in a vars file kept out of git "
        f"(--vars secrets.yml, or --vars - on standard input) or in Ansible Vault"
        for name, what in SECRETS.items()
    }
    try:
        variables = resolver.resolve(raw, hints)
        mistyped = type_problems(variables, given)
        if mistyped:  # reported; the rules see the defaults instead, so they do not trip on them
            problems.extend(mistyped.values())
            for name in mistyped:
                if name in DEFAULTS:
                    raw[name] = DEFAULTS[name]
                else:
                    raw.pop(name, None)
            variables = resolver.resolve(raw, hints)
    except resolver.VariableError as error:
        return None, [*problems, str(error)]
    problems.extend(secret_problems(variables))
    problems.extend(check_problems(variables))
    return variables, list(dict.fromkeys(problems))


def variables_from(vars_files=(), overrides=None):
    """Defaults, then vars files, then overrides; resolved and checked."""
    variables, problems = collect(vars_files, overrides)
    if problems:
        raise RenderError(problems)
    return variables


def check(variables):
    """Relations between variables that no single template can see. `--check` runs these,
    so Ansible's preflight uses this implementation, not a copy. Raises with every problem."""
    problems = check_problems(variables)
    if problems:
        raise RenderError(problems)


def check_problems(variables):
    """Every rule's problems; a rule whose variables cannot be resolved reports why instead."""
    problems = []
    for rule in RULES:
        try:
            problems.extend(rule(lambda name: _value(variables, name)))
        except jinja2.UndefinedError as error:
            problems.append(str(error))
        except (TypeError, ValueError) as error:  # a value the type check let through, still unusable
            problems.append(f"{rule.__name__.lstrip('_')}: cannot be checked ({error})")
    return list(dict.fromkeys(problems))


def _value(variables, name):
    value = variables[name]
    if isinstance(value, jinja2.Undefined):
        str(value)  # raises with the reason
    return value


def _ping_below_nginx_timeouts(get):
    ping = get("daphne_ping_interval")
    for name in ("nginx_ws_read_timeout", "nginx_ws_send_timeout"):
        if not ping < get(name):
            yield (
                f"daphne_ping_interval ({ping} s) must be shorter than {name} ({get(name)} s): "
                f"otherwise nginx closes idle WebSockets (close code 1006) before daphne's ping keeps them busy."
            )
    if ping <= 0:
        yield f"daphne_ping_interval ({ping} s) must be above 0: daphne's ping keeps idle sockets open"


def _choices(get):
    choices_of = {"websocket_server": ("daphne", "uvicorn"), "app_channel_layer": ("redis", "redis-pubsub")}
    for name, choices in choices_of.items():
        if get(name) not in choices:
            yield f"{name} is {get(name)!r}: choose one of {', '.join(choices)}"


def _keepalive(get):
    if not get("http_keepalive") > get("nginx_upstream_keepalive_timeout"):
        yield (
            f"http_keepalive ({get('http_keepalive')} s) must be longer than nginx_upstream_keepalive_timeout "
            f"({get('nginx_upstream_keepalive_timeout')} s): otherwise the HTTP server closes idle connections "
            "nginx is about to reuse, and requests fail with 502."
        )


def _counts(get):
    if get("app_max_sockets") < 1:
        yield "app_max_sockets must be at least 1 (the WebSockets one host is sized for)"
    if get("daphne_instances") < 1:
        yield (
            f"daphne_instances is {get('daphne_instances')}: it must be at least 1 (one per core is a good start; "
            "the listen backlog is shared out between them)"
        )
    if get("http_workers") < 1:
        yield f"http_workers is {get('http_workers')}: it must be at least 1 (one or two per core)"


def _app_name(get):
    if not APP_NAME.match(str(get("app_name"))):
        yield (
            f"app_name {get('app_name')!r} must be lower-case letters, digits and '-' (it names files, units "
            f"and nginx zones)"
        )


def _tls(get):
    if get("nginx_tls") and not get("app_https"):
        yield "nginx_tls is on but app_https is off: a site nginx serves over TLS is an HTTPS site"


def _server_names(get):
    for name in get("app_server_names"):
        if not isinstance(name, str) or not SERVER_NAME.match(name):
            yield (
                f"app_server_names: {name!r} is not a host name (no scheme, path or port): e.g. "
                "app_server_names: [chat.example.org]"
            )
    if not get("app_server_names"):
        yield "app_server_names is empty: give the site's names, e.g. app_server_names: [chat.example.org]"


def _upstreams(get):
    for name in ("nginx_daphne_servers", "nginx_http_servers"):
        for server in get(name):
            if not UPSTREAM_SERVER.match(str(server)):
                yield f"{name}: {server!r} is neither host:port nor unix:/path"


def _ports(get):
    daphne_port, http_port = get("daphne_tcp_port"), get("http_tcp_port")
    for name in ("nginx_http_port", "nginx_https_port", "daphne_tcp_port", "http_tcp_port"):
        port = get(name)
        if port is not None and not 1 <= port <= 65535:
            yield f"{name} is {port}: a port is 1 to 65535"
    if daphne_port is not None and not 1 <= daphne_port + get("daphne_instances") - 1 <= 65535:
        yield (f"daphne_tcp_port {daphne_port} + daphne_instances {get('daphne_instances')} runs past port 65535: "
               "the instances take consecutive ports")
    if daphne_port is not None and http_port is not None:
        daphne_ports = range(daphne_port, daphne_port + get("daphne_instances"))
        same_address = _same_address(get("daphne_tcp_address"), get("http_tcp_address"))
        if same_address and http_port in daphne_ports:
            yield f"http_tcp_port {http_port} is one of the daphne ports {daphne_ports.start}-{daphne_ports.stop - 1}"


RULES = (_ping_below_nginx_timeouts, _choices, _keepalive, _counts, _app_name, _tls, _server_names, _upstreams,
         _ports)


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


def render_problems(variables, chosen, consequences_known=False):
    """Render every chosen output in memory and collect what stops each, all of it: a template
    that needs two missing secrets names both. After the first undefined value the rest of its
    template is rendered with that one blank, and so on. With consequences_known (the variables
    already have problems), only the missing values are said: a template failing on a value already
    refused (an empty list, a division by zero) would only repeat it."""
    found = {}
    for output in chosen:
        current = dict(variables)
        for _ in range(len(current) + 1):
            try:
                render_text(current, output)
                break
            except RenderError as error:
                cause = error.__cause__
                if not isinstance(cause, jinja2.UndefinedError):
                    if not consequences_known:
                        found.setdefault(str(error), [])
                    break
                message = str(cause)
                blank = [name for name, value in current.items()
                         if isinstance(value, jinja2.Undefined) and value._undefined_message == message]
                consequence = not blank or resolver.CANNOT_BE_COMPUTED in message
                if not (consequences_known and consequence):
                    found.setdefault(message, []).append(output)
                if not blank:
                    break
                current.update(dict.fromkeys(blank, ""))
            except (jinja2.TemplateError, ArithmeticError, TypeError, ValueError) as error:
                if not consequences_known:
                    found.setdefault(f"{output['template']}: {error}", [])
                break
    problems = []
    for message, needed_by in found.items():
        if not needed_by:
            problems.append(message)
            continue
        targets = list(dict.fromkeys(output["target"] for output in needed_by))
        others = [target for target in TARGETS if target not in targets]
        problems.append(f"{message} (needed by {', '.join(o['template'] for o in needed_by)}; to render the rest "
                        f"without it, name the targets: {' '.join(others)})")
    return problems


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
    try:
        return key, yaml.safe_load(value)
    except yaml.YAMLError as error:
        reason = " ".join(str(error).split())
        raise argparse.ArgumentTypeError(f"--set {key}=...: the value is not YAML ({reason})") from None


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
        variables, problems = collect(args.vars, dict(args.set))
        if variables is not None:
            try:
                chosen = outputs(variables, targets)
            except RenderError as error:
                problems.extend(error.problems)
            else:
                problems.extend(render_problems(variables, chosen, consequences_known=bool(problems)))
        if problems:
            raise RenderError(problems)
        if args.check:
            print(f"render: ok ({', '.join(targets)})")
            return 0
        written = render(variables, None if args.install else args.out, targets, args.destdir)
    except RenderError as error:
        print(error.report(), file=sys.stderr)
        return 2
    except OSError as error:
        print(f"render: {error}", file=sys.stderr)
        return 2
    for path in written.values():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
