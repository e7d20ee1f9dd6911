from django.conf import settings
from rest_framework.permissions import BasePermission


class SchemaAccess(BasePermission):
    """Everyone when API_SCHEMA_PUBLIC (development's default), else staff only."""

    message = "The API schema is for staff here (API_SCHEMA_PUBLIC=false): sign in as staff."

    def has_permission(self, request, view):
        if settings.API_SCHEMA_PUBLIC:
            return True
        return bool(request.user and request.user.is_staff)
