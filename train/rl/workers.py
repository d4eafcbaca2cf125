"""Ray actors of the PPO loop: rollout workers, reward workers and learners.

The only module of stage two that imports Ray. Each actor wraps a plain class
(`satori.engines`, `satori.grading.VerifierPool`, `train.rl.learner.Learner`) so the same
logic runs, and is tested, without Ray.
"""

from __future__ import annotations

import os
import socket
from typing import Any

import ray

from satori.engines.base import SamplingParams


@ray.remote(max_restarts=-1, max_task_retries=0)
class RolloutWorker:
    """One rollout engine (transformers or vLLM) serving the current policy weights."""

    def __init__(self, engine: str, model_path: str, threads: int, engine_options: dict[str, Any]):
        import torch

        self.weights_version = 0  # 0: the weights it was built with; a restarted actor is back at 0

        torch.set_num_threads(threads)
        if engine == "vllm":
            from satori.engines.vllm_engine import VLLMEngine

            self.engine = VLLMEngine(model_path, **engine_options)
        else:
            from satori.engines.hf import HFEngine

            self.engine = HFEngine(model_path, max_batch_size=engine_options.get("max_batch_size", 64))

    def pid(self) -> int:
        return os.getpid()

    def generate(self, prompts: list[list[int]], params: dict[str, Any],
                 weights_version: int) -> list[list[dict[str, Any]]] | None:
        """Completion dicts per prompt; None when this worker does not hold ``weights_version``."""
        if weights_version != self.weights_version:
            return None
        completions = self.engine.generate(prompts, SamplingParams(**params))
        return [[c.to_dict() for c in group] for group in completions]

    def update_weights(self, state_dict: dict[str, Any], version: int) -> None:
        self.engine.update_weights(state_dict)
        self.weights_version = version


@ray.remote(max_restarts=-1)
class RewardWorker:
    """Grades completions with the verifier pool (hard time limit per answer)."""

    def __init__(self, processes: int, timeout: float):
        from satori.grading import VerifierPool

        self.pool = VerifierPool(workers=processes, timeout=timeout)

    def grade(self, pairs: list[tuple[str, Any]]) -> list[dict[str, Any]]:
        return [verdict.to_dict() for verdict in self.pool.verify_batch(pairs)]


@ray.remote(num_cpus=0)
def rendezvous_address() -> str:
    """``tcp://IP:PORT`` on the node this task runs on, with a port free there: where learner rank 0
    (scheduled on the same node) hosts torch.distributed's rendezvous, reachable from every node."""
    with socket.socket() as probe:
        probe.bind(("", 0))
        port = probe.getsockname()[1]
    return f"tcp://{ray.util.get_node_ip_address()}:{port}"


def learner_actor(num_gpus: float = 0.0) -> Any:
    """The `Learner` class as a Ray actor class."""
    from train.rl.learner import Learner

    return ray.remote(num_gpus=num_gpus)(Learner)
