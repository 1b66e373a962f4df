"""The police agency simulator (see ``app.create_app``)."""
