"""The insurance agency simulator (see ``app.create_app``)."""
