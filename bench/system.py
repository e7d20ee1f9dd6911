"""What the benchmark reads from the machine: processes by their listening socket, their
memory and CPU time (from /proc, Linux only), open-file limits, and a description of the machine
and of the versions measured."""

import os
import platform
import re
import resource
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def raise_nofile():
    """Soft open-file limit up to the hard one (20,000 per process here); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = 1 << 20 if hard == resource.RLIM_INFINITY else hard
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def rss_kib(pid):
    """Resident set size of `pid` in KiB (VmRSS), None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid):
    """User + system CPU time of `pid` so far (seconds), None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _listening_inodes(path):
    inodes = set()
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        # Num RefCount Protocol Flags Type St Inode Path; flags 00010000 = __SO_ACCEPTCON (listening)
        if len(fields) >= 8 and fields[7] == str(path) and int(fields[3], 16) & 0x10000:
            inodes.add(fields[6])
    return inodes


def pids_listening_on(path):
    """Processes holding the listening unix socket `path`: the server behind it (a forking
    server's workers too; the parent-most is first)."""
    inodes = {f"socket:[{inode}]" for inode in _listening_inodes(path)}
    found = []
    if not inodes:
        return found
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (proc / "fd").iterdir()):
                found.append(int(proc.name))
        except OSError:
            continue
    return sorted(found)


def server_pid(path):
    """The process serving a unix socket: the one holding it whose parent does not (a single
    daphne or uvicorn; for a pre-forking server, its first worker)."""
    pids = pids_listening_on(path)
    workers = [pid for pid in pids if _ppid(pid) in pids]
    return (workers or pids or [None])[0]


def _ppid(pid):
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None


def command_line(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _first_line(args):
    try:
        result = subprocess.run(args, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (result.stdout or result.stderr).strip()
    return text.splitlines()[0] if text else None


def _version(distribution):
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _version_in(text, pattern):
    match = re.search(pattern, text or "")
    return match.group(1) if match else text


def code_state(repo):
    """The commit measured and what differs from it in the code the stack runs."""
    commit = _first_line(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"])
    try:
        status = subprocess.run(["git", "-C", str(repo), "status", "--short", "--", "app", "ops", "nginx", "systemd"],
                                capture_output=True, text=True, timeout=10, check=False).stdout.splitlines()
    except (OSError, subprocess.TimeoutExpired):
        status = []
    return {"commit": commit, "uncommitted": status}


def machine():
    """The machine and software a figure was measured on."""
    meminfo = Path("/proc/meminfo").read_text()
    total_kib = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))
    cpu_model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), platform.processor() or "unknown")

    def sysctl(name):
        try:
            return "-".join(Path("/proc/sys/" + name.replace(".", "/")).read_text().split())
        except OSError:
            return None

    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(total_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": _first_line(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "python": platform.python_version(),
        "nofile_hard_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[1],
        "sysctl": {name: sysctl(name) for name in (
            "net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog", "net.ipv4.ip_local_port_range")},
        "versions": {
            **{name: _version(name) for name in (
                "daphne", "uvicorn", "channels", "channels_redis", "redis", "Django", "Twisted", "websockets")},
            "nginx": _version_in(_first_line([nginx, "-v"]), r"nginx/([\d.]+)"),
            "redis-server": _version_in(_first_line(["redis-server", "--version"]), r"v=([\d.]+)"),
            "postgres": _version_in(_first_line(
                ["sh", "-c", "$(ls -d /usr/lib/postgresql/*/bin | tail -1)/postgres --version"]), r"([\d.]+)"),
        },
        "python_executable": sys.executable,
    }
