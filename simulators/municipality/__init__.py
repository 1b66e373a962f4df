"""Muscat Municipality health cards simulator (scaffolded by ``rabt adapter new municipality``): see :mod:`simulators.municipality.app`."""
