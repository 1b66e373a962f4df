"""Central bank simulator: the Wage Protection System's salary information files (SIF)."""
