"""The topology and access rights that go with the bundled agencies.

Shipped as package data beside the adapters, because they name agencies and
the hub must not; the hub finds them through the ``rabt.defaults`` entry
points, and an operator replaces them with ``RABT_ROUTES_FILE`` /
``RABT_ACCESS_FILE`` (or ``routes_file`` / ``access_file`` in rabt.toml).
"""

from importlib.resources import files

ROUTES = files(__package__) / "routes.toml"
"""Exchange, one queue per destination, retry policy."""

ACCESS = files(__package__) / "access.toml"
"""Which canonical message types each agency may send."""
