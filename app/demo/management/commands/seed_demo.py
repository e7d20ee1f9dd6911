from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo.seeding import seed_demo_users


class Command(BaseCommand):
    help = "Create (or reset) the demo users and their conversations, and print their credentials."

    def add_arguments(self, parser):
        parser.add_argument("--password", help="Use this password for every demo user instead of random ones.")
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Seed even with DEBUG off (a throwaway production-like stack).",
        )

    def handle(self, *args, password=None, allow_production=False, **options):
        if not settings.DEBUG and not allow_production:
            raise CommandError(
                "DEBUG is off: demo users with printed passwords do not belong on a real server. "
                "Pass --allow-production if this is a throwaway stack."
            )
        users = seed_demo_users(password=password)
        self.stdout.write("Demo users (passwords are reset on every run):")
        for username, user_password, is_staff in users:
            role = " (staff)" if is_staff else ""
            self.stdout.write(f"  {username:<6} {user_password}{role}")
