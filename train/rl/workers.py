"""Ray actors of the PPO loop: rollout workers, reward workers, reward-model workers and learners.

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


def build_engine(engine: str, model_path: str, options: dict[str, Any]) -> Any:
    """The rollout engine ``engine`` ("hf" or "vllm") for ``model_path``; ``options`` hold ``dtype``
    ("float32", "bfloat16") and the engine's own arguments (vLLM's, or the HF engine's ``max_batch_size``)."""
    if engine == "vllm":
        from satori.engines.vllm_engine import VLLMEngine

        return VLLMEngine(model_path, **options)
    import torch

    from satori.engines.hf import HFEngine

    return HFEngine(model_path, max_batch_size=options["max_batch_size"], dtype=getattr(torch, options["dtype"]))


@ray.remote(max_restarts=-1, max_task_retries=0)
class RolloutWorker:
    """One rollout engine (transformers or vLLM) serving the current policy weights.

    Colocated with the learners, the engine sleeps while they train; generating or loading weights
    while it sleeps is refused (a vLLM engine asleep holds no KV cache, and its weights are offloaded).
    """

    def __init__(self, engine: str, model_path: str, threads: int | None, engine_options: dict[str, Any]):
        from satori.run_config import set_threads

        self.weights_version = 0  # 0: the weights it was built with; a restarted actor is back at 0
        self.asleep = False       # a restarted actor is awake

        set_threads(threads)
        self.engine = build_engine(engine, model_path, engine_options)

    def pid(self) -> int:
        return os.getpid()

    def torch_threads(self) -> int:
        import torch

        return torch.get_num_threads()

    def generate(self, prompts: list[list[int]], params: dict[str, Any],
                 weights_version: int) -> list[list[dict[str, Any]]] | None:
        """Completion dicts per prompt; None when this worker does not hold ``weights_version``."""
        if weights_version != self.weights_version:
            return None
        self._refuse_asleep("generate")
        completions = self.engine.generate(prompts, SamplingParams(**params))
        return [[c.to_dict() for c in group] for group in completions]

    def update_weights(self, state_dict: dict[str, Any], version: int) -> None:
        self._refuse_asleep("update_weights")
        self.engine.update_weights(state_dict)
        self.weights_version = version

    def sleep(self) -> None:
        """Free the engine's accelerator memory until :meth:`wake`."""
        if not self.asleep:
            self.engine.sleep()
            self.asleep = True

    def wake(self) -> None:
        if self.asleep:
            self.engine.wake()
            self.asleep = False

    def _refuse_asleep(self, call: str) -> None:
        if self.asleep:
            raise RuntimeError(f"rollout worker: {call} while the engine is asleep; wake it first")


@ray.remote(max_restarts=-1)
class RewardWorker:
    """Grades completions with the verifier pool (hard time limit per answer)."""

    def __init__(self, processes: int, timeout: float):
        from satori.grading import VerifierPool

        self.pool = VerifierPool(workers=processes, timeout=timeout)

    def grade(self, pairs: list[tuple[str, Any]]) -> list[dict[str, Any]]:
        return [verdict.to_dict() for verdict in self.pool.verify_batch(pairs)]


@ray.remote(max_restarts=-1)
class RewardModelWorker:
    """Scores ``(question, response)`` pairs with an outcome reward model (``satori.orm.RewardModel``), in
    batches of ``batch_size`` sequences."""

    def __init__(self, path: str, batch_size: int, threads: int | None):
        from satori.orm import RewardModel
        from satori.run_config import set_threads

        set_threads(threads)
        self.model = RewardModel(path, batch_size=batch_size)

    def score(self, questions: list[str], responses: list[str]) -> list[float]:
        return self.model.score(questions, responses)


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
