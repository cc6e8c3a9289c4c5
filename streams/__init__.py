"""Gate Sentinel's stream processors, the local stack, and the ``sentinel`` command."""
