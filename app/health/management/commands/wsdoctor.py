import json
from dataclasses import asdict

from django.core.management.base import BaseCommand

from health.doctor import FAIL, PASS, Doctor, exit_code

MARKS = {PASS: "ok  ", "warn": "warn", FAIL: "FAIL"}


class Command(BaseCommand):
    help = (
        "Diagnose a deployment's WebSockets: HTTP reachability, the health endpoint, an unauthenticated "
        "and an authenticated socket, a ping round trip and optionally an idle period. Exits 1 on failure."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("url", help="Base URL of the site, e.g. https://example.com or http://127.0.0.1:8000")
        parser.add_argument("--token", help="A token from POST /api/auth/login/ to test an authenticated socket.")
        parser.add_argument("--origin", help="Origin header to send (default: the URL's own origin).")
        parser.add_argument("--timeout", type=float, default=5.0, help="Seconds to wait for each answer.")
        parser.add_argument("--idle", type=float, default=0.0,
                            help="Also hold a socket idle this long (e.g. 75 to test a 60 s proxy timeout).")
        parser.add_argument("--json", action="store_true", help="Print the steps as JSON.")

    def handle(self, *args, **options):
        doctor = Doctor(
            options["url"],
            token=options["token"],
            origin=options["origin"],
            timeout=options["timeout"],
            idle=options["idle"],
        )
        steps = doctor.run()
        if options["json"]:
            self.stdout.write(json.dumps([asdict(s) for s in steps], indent=2))
        else:
            for step in steps:
                self.stdout.write(f"[{MARKS[step.status]}] {step.name:<9} {step.detail}")
                if step.cause:
                    self.stdout.write(f"       cause: {step.cause}")
                if step.fix:
                    self.stdout.write(f"       fix:   {step.fix}")
        code = exit_code(steps)
        if code:
            self.stderr.write("wsdoctor: some checks failed (see cause/fix above).")
            raise SystemExit(code)
        self.stdout.write("wsdoctor: all checks passed.")
