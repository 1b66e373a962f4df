"""Data only: the canonical and agency contracts, shipped as the ``rabt_schemas`` package (see hub.resources)."""
