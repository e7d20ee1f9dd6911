#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    from django.core.management import execute_from_command_line

    from config.settings.refusals import MANAGE_EXIT_STATUS, SettingsRefused

    try:
        execute_from_command_line(sys.argv)
    except SettingsRefused as refused:
        # The operator's fix is in the message; a traceback would only bury it.
        print(refused, file=sys.stderr)
        sys.exit(MANAGE_EXIT_STATUS)
