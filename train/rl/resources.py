"""Where the PPO actors run: Ray placement groups from the config's ``resources`` section.

Learners and rollout engines get one bundle of CPUs/GPUs each, reserved up front in
placement groups, so a run either gets all it asked for or fails early with the cluster's
free resources in the message (no half-started job waiting forever for a GPU):

- learners: one group, one bundle per learner rank, packed onto as few nodes as possible
  (``PACK``: the gradient all-reduce stays intra-node when it can);
- engines (not colocated): one group per engine holding its tensor-parallel shards,
  ``STRICT_PACK`` (a tensor-parallel group never spans nodes), the engine actor on bundle 0
  and vLLM's own workers on the others (child tasks are captured by the group);
- colocated: one group of one bundle per learner, each bundle big enough for a learner and
  an engine shard; engine ``j`` starts on bundle ``j * tensor_parallel``. Each actor then
  asks for half of the bundle's GPU (Ray accounting only: the engine sleeps while learners
  train, as in vLLM's sleep mode).

On CPU (``gpus_per_* == 0``) the same groups hold CPU bundles only.

    placement = place(config.resources, learners=2, engines=1)
    Learner.options(**placement.learner(rank)).remote(...)
    RolloutWorker.options(**placement.engine(index)).remote(...)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from satori.config import require

COLOCATED_GPU_SHARE = 0.5  # learner and engine each claim half of a shared GPU bundle


@dataclass
class ResourcesConfig:
    gpus_per_engine: int = 0        # tensor-parallel size of each rollout engine (0: engines run on CPU)
    cpus_per_engine: float = 0.5    # CPUs in Ray's accounting (torch threads come from `threads`)
    gpus_per_learner: int = 0       # 0: learners run on CPU; 1: one GPU per learner process
    cpus_per_learner: float = 0.5
    colocate: bool = False          # engines share the learners' GPUs (and bundles)
    gpus_per_node: int = 8          # GPUs on each cluster node (engines whose placement needs nodes: OpenRLHF)
    ready_timeout: float = 300.0    # seconds to wait for the placement groups before giving up

    def validate(self) -> None:
        require(self.gpus_per_engine >= 0, "resources.gpus_per_engine", "must be >= 0 (0: CPU engines)")
        require(self.gpus_per_learner in (0, 1), "resources.gpus_per_learner",
                "a learner process drives 0 (CPU) or 1 GPU; add learners for more GPUs")
        require(self.cpus_per_engine > 0, "resources.cpus_per_engine", "must be > 0")
        require(self.cpus_per_learner > 0, "resources.cpus_per_learner", "must be > 0")
        require(self.gpus_per_node >= 1, "resources.gpus_per_node", "must be >= 1")
        require(self.gpus_per_engine <= self.gpus_per_node, "resources.gpus_per_engine",
                f"a tensor-parallel engine must fit one node ({self.gpus_per_node} GPUs, resources.gpus_per_node)")
        require(self.ready_timeout > 0, "resources.ready_timeout", "must be > 0 seconds")
        require(not self.colocate or self.gpus_per_engine == 0 or self.gpus_per_learner == 1, "resources.colocate",
                "colocating GPU engines needs GPU learners: set resources.gpus_per_learner=1")

    @property
    def tensor_parallel(self) -> int:
        """Bundles one engine spans (1 on CPU)."""
        return max(self.gpus_per_engine, 1)

    def check_counts(self, learners: int, engines: int) -> None:
        """Refuse counts the layout cannot hold (call from the stage config's ``validate``)."""
        if not self.colocate:
            return
        shards = engines * self.tensor_parallel
        if self.gpus_per_learner:
            require(shards == learners, "resources.colocate",
                    f"colocated engines must fill the learners' GPUs exactly: engines x gpus_per_engine = {shards} "
                    f"but there are {learners} learners; change rollout.num_workers or ray.learners")
        else:
            require(shards <= learners, "resources.colocate",
                    f"colocated engines sit on the learners' bundles: {shards} engine bundles for {learners} "
                    "learners; use fewer rollout workers or more learners")


def learner_bundle(resources: ResourcesConfig) -> dict[str, float]:
    """The bundle of one learner (colocated: of one learner plus one engine shard)."""
    cpus = resources.cpus_per_learner + (resources.cpus_per_engine if resources.colocate else 0.0)
    return _bundle(cpus, resources.gpus_per_learner)


def engine_bundles(resources: ResourcesConfig) -> list[dict[str, float]]:
    """The bundles of one engine (not colocated): the engine's CPUs ride on its first shard."""
    tp = resources.tensor_parallel
    return [_bundle(resources.cpus_per_engine if i == 0 else 0.0, min(resources.gpus_per_engine, 1))
            for i in range(tp)]


def _bundle(cpus: float, gpus: float) -> dict[str, float]:
    bundle = {"CPU": cpus} if cpus else {}
    if gpus:
        bundle["GPU"] = gpus
    return bundle


@dataclass
class Placement:
    """Ready placement groups and the actor options that put each actor in its bundle."""

    resources: ResourcesConfig
    learner_group: Any
    engine_groups: list[Any]                       # one per engine; empty when colocated
    engine_starts: list[tuple[Any, int]] = field(default_factory=list)  # (group, first bundle) per engine

    def learner(self, rank: int) -> dict[str, Any]:
        """``.options(**...)`` for learner ``rank``."""
        r = self.resources
        gpus = r.gpus_per_learner * (COLOCATED_GPU_SHARE if r.colocate else 1.0)
        return {"num_cpus": r.cpus_per_learner, "num_gpus": gpus,
                "scheduling_strategy": _strategy(self.learner_group, rank)}

    def engine(self, index: int) -> dict[str, Any]:
        """``.options(**...)`` for rollout engine ``index``.

        A tensor-parallel engine's actor holds no GPU itself: vLLM's workers take the group's
        GPU bundles (child tasks are scheduled in the engine's group).
        """
        r = self.resources
        group, bundle = self.engine_starts[index]
        gpus = 0.0
        if r.gpus_per_engine == 1:
            gpus = COLOCATED_GPU_SHARE if r.colocate else 1.0
        return {"num_cpus": r.cpus_per_engine, "num_gpus": gpus, "scheduling_strategy": _strategy(group, bundle)}

    def groups(self) -> list[Any]:
        return [self.learner_group, *self.engine_groups]

    def remove(self) -> None:
        """Release every group (their actors must be gone or be killed with them)."""
        from ray.util.placement_group import remove_placement_group

        for group in self.groups():
            remove_placement_group(group)


def _strategy(group: Any, bundle: int) -> Any:
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    return PlacementGroupSchedulingStrategy(placement_group=group, placement_group_bundle_index=bundle,
                                            placement_group_capture_child_tasks=True)


def place(resources: ResourcesConfig, learners: int, engines: int) -> Placement:
    """Reserve the placement groups for ``learners`` and ``engines`` and wait until they are ready.

    Raises RuntimeError naming the request and the cluster's resources when they are not
    ready within ``resources.ready_timeout`` seconds (the groups are released).
    """
    import ray
    from ray.util.placement_group import placement_group

    resources.check_counts(learners, engines)
    learner_group = placement_group([learner_bundle(resources)] * learners, strategy="PACK")
    placement = Placement(resources, learner_group, [])
    if resources.colocate:
        placement.engine_starts = [(learner_group, j * resources.tensor_parallel) for j in range(engines)]
    else:
        placement.engine_groups = [placement_group(engine_bundles(resources), strategy="STRICT_PACK")
                                   for _ in range(engines)]
        placement.engine_starts = [(group, 0) for group in placement.engine_groups]
    ready, _ = ray.wait([g.ready() for g in placement.groups()], num_returns=len(placement.groups()),
                        timeout=resources.ready_timeout)
    if len(ready) < len(placement.groups()):
        placement.remove()
        raise RuntimeError(
            f"Ray could not reserve {learners} learner bundle(s) {learner_bundle(resources)} and {engines} engine(s) "
            f"of {engine_bundles(resources) if not resources.colocate else 'shared bundles'} within "
            f"{resources.ready_timeout:.0f} s; the cluster has {ray.cluster_resources()}. Lower the resources.* "
            "shares, use fewer rollout.num_workers / ray.learners, or add nodes.")
    return placement
