"""Reinforcement-learned teachers (`satori teach`): a teacher rewarded for explanations a student can follow."""
