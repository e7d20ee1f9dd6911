from django.contrib.auth import authenticate
from rest_framework import serializers


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)

    def validate(self, attrs):
        user = authenticate(self.context["request"], username=attrs["username"], password=attrs["password"])
        if user is None:
            raise serializers.ValidationError("Unknown username or wrong password.", code="authorization")
        attrs["user"] = user
        return attrs


class UserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    is_staff = serializers.BooleanField()
    team = serializers.SerializerMethodField()
    branch = serializers.SerializerMethodField()

    def get_team(self, user):
        from accounts.models import profile_for

        return profile_for(user).team

    def get_branch(self, user):
        from accounts.models import profile_for

        return profile_for(user).branch
