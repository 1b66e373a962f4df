"""``rabt demo``: the whole system started as separate processes, and the licensing story run through it."""
