from django.conf import settings
from django.urls import path

from . import views

urlpatterns = [
    path("auth/login/", views.LoginView.as_view(), name="auth-login"),
    path("auth/logout/", views.LogoutView.as_view(), name="auth-logout"),
    path("auth/logout-everywhere/", views.LogoutEverywhereView.as_view(), name="auth-logout-everywhere"),
    path("auth/me/", views.MeView.as_view(), name="auth-me"),
    path("ws/ticket/", views.WebSocketTicketView.as_view(), name="ws-ticket"),
]

if settings.WS_AUTH_JWT:
    from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

    urlpatterns += [
        path("auth/jwt/", TokenObtainPairView.as_view(), name="jwt-obtain"),
        path("auth/jwt/refresh/", TokenRefreshView.as_view(), name="jwt-refresh"),
    ]
