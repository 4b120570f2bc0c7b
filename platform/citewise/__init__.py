"""Citewise: the Django project (settings, URLs, ASGI/WSGI, Celery app) and its apps."""

# Importing the Celery app here makes @shared_task bind to it in every process.
from citewise.celery import app as celery_app

__all__ = ["celery_app"]
