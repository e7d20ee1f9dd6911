"""Run a rendered systemd unit's command without systemd: what the local stack does, so it
exercises exactly the command lines a server runs."""

import shlex
import socket
from pathlib import Path


def parse_unit(path, section_name="Service"):
    """The settings of one section of a unit file ([Service] unless told, e.g. "Timer"):
    {key: [values]} (keys may repeat). A line ending in a backslash continues on the next, as in
    systemd (the backslash becomes a space)."""
    settings, section, pending = {}, None, ""
    for raw in Path(path).read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith(("#", ";"))):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        if line.startswith("["):
            section = line.strip("[]")
        elif section == section_name:
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def expand_specifiers(value, instance=""):
    return value.replace("%i", instance).replace("%H", socket.gethostname()).replace("%%", "%")


def unit_command(path, instance=""):
    """A shell command doing what systemd does for the unit: Environment, WorkingDirectory,
    ExecStartPre, then exec ExecStart. Sockets and lock files are cleaned the same way."""
    unit = parse_unit(path)
    steps = [f"cd {shlex.quote(unit['WorkingDirectory'][0])}"]
    steps += [expand_specifiers(pre, instance) for pre in unit.get("ExecStartPre", [])]
    env = [shlex.quote(expand_specifiers(item, instance)) for item in unit.get("Environment", [])]
    start = shlex.join(shlex.split(expand_specifiers(unit["ExecStart"][0], instance)))
    steps.append(f"exec env {' '.join(env)} {start}")
    return " && ".join(steps)
