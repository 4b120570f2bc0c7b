"""The web interface: templates, static files and the views of the chat and admin pages."""
