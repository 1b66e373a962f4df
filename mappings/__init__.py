"""Data only: the mapping files, shipped as the ``rabt_mappings`` package (see hub.resources)."""
