"""Outcome reward model: label sets from a policy's graded samples, and `satori rm` training."""
