"""Stage two: PPO with restart-and-explore (RAE), distributed with Ray."""
