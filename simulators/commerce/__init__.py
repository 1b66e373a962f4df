"""The commerce agency simulator (see ``app.create_app``)."""
