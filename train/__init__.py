"""Training stages: format tuning (SFT), PPO with restart-and-explore, distillation."""
