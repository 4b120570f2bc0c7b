"""Sign-in, sign-out and password change: Django's own views with Citewise's templates.

Included at /accounts/ without a namespace, because Django's views reverse these names
("password_change_done") unqualified. Signing in through an identity provider (OIDC)
adds its own URLs beside these: docs/authentication.md.
"""

from django.contrib.auth import views as auth
from django.urls import path

urlpatterns = [
    path("login/", auth.LoginView.as_view(template_name="frontend/accounts/login.html",
                                          redirect_authenticated_user=True), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),  # POST only (Django 5)
    path("password/", auth.PasswordChangeView.as_view(
        template_name="frontend/accounts/password_change.html"), name="password_change"),
    path("password/done/", auth.PasswordChangeDoneView.as_view(
        template_name="frontend/accounts/password_change_done.html"),
        name="password_change_done"),
]
