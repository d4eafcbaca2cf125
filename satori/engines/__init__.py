"""Rollout engines: one interface (`base.RolloutEngine`), one module per backend."""
