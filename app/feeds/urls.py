from django.urls import path

from . import views

urlpatterns = [path("announce/", views.AnnounceView.as_view(), name="feed-announce")]
