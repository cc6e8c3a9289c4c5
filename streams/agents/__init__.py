"""The worker's stages, one module per stage. Each ``register`` adds its agents, tasks and
timers to the Faust app."""
