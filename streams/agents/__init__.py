"""Faust agents, one module per stage. Each ``register`` adds its agents to the app."""
