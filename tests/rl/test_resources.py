"""Placement groups from the ``resources`` section, on a real local Ray with CPU bundles."""

from __future__ import annotations

import time

import pytest
import ray

from satori.config import ConfigError, load_config
from train.rl.resources import ResourcesConfig, engine_bundles, learner_bundle, place


@pytest.fixture(scope="module")
def local_ray():
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    yield
    if started:
        ray.shutdown()


@ray.remote
class Probe:
    def group(self) -> str | None:
        """The id of the placement group this actor was scheduled into (seen from inside it)."""
        group = ray.util.get_current_placement_group()
        return group.id.hex() if group else None


def _cpus_taken(group) -> dict[int, float]:
    """CPUs taken per bundle of ``group``, from Ray's per-bundle resources ("CPU_group_<i>_<id>")."""
    free = ray.available_resources()
    gid = group.id.hex()
    return {i: round(spec["CPU"] - free.get(f"CPU_group_{i}_{gid}", 0.0), 3) for i, spec in enumerate(group.bundle_specs)}


def _settled(group, expected: dict[int, float]) -> dict[int, float]:
    """The per-bundle usage once Ray's resource view shows ``expected`` (or after 10 s)."""
    deadline = time.monotonic() + 10
    while (taken := _cpus_taken(group)) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    return taken


@pytest.mark.slow
def test_separate_groups_put_each_learner_and_engine_in_its_bundle(local_ray):
    resources = ResourcesConfig(cpus_per_learner=0.5, cpus_per_engine=0.25)
    placement = place(resources, learners=2, engines=1)
    try:
        assert placement.learner_group.bundle_specs == [{"CPU": 0.5}, {"CPU": 0.5}]
        assert [g.bundle_specs for g in placement.engine_groups] == [[{"CPU": 0.25}]]
        learner1 = Probe.options(**placement.learner(1)).remote()
        assert ray.get(learner1.group.remote(), timeout=60) == placement.learner_group.id.hex()
        assert _settled(placement.learner_group, {0: 0.0, 1: 0.5}) == {0: 0.0, 1: 0.5}
        learner0 = Probe.options(**placement.learner(0)).remote()
        engine = Probe.options(**placement.engine(0)).remote()
        assert ray.get(engine.group.remote(), timeout=60) == placement.engine_groups[0].id.hex()
        assert ray.get(learner0.group.remote(), timeout=60) == placement.learner_group.id.hex()
        assert _settled(placement.learner_group, {0: 0.5, 1: 0.5}) == {0: 0.5, 1: 0.5}
        assert _settled(placement.engine_groups[0], {0: 0.25}) == {0: 0.25}
        assert placement.learner(1)["num_gpus"] == 0 and placement.engine(0)["num_cpus"] == 0.25
        for actor in (learner0, learner1, engine):
            ray.kill(actor)
    finally:
        placement.remove()


@pytest.mark.slow
def test_colocated_engine_shares_the_first_learner_bundle(local_ray):
    resources = ResourcesConfig(cpus_per_learner=0.5, cpus_per_engine=0.25, colocate=True)
    placement = place(resources, learners=2, engines=1)
    try:
        assert placement.engine_groups == []
        assert placement.learner_group.bundle_specs == [{"CPU": 0.75}, {"CPU": 0.75}]
        actors = [Probe.options(**placement.engine(0)).remote(), Probe.options(**placement.learner(0)).remote(),
                  Probe.options(**placement.learner(1)).remote()]
        assert ray.get([a.group.remote() for a in actors], timeout=60) == [placement.learner_group.id.hex()] * 3
        # the engine and learner 0 share bundle 0 (0.25 + 0.5 CPU), learner 1 is alone in bundle 1
        assert _settled(placement.learner_group, {0: 0.75, 1: 0.5}) == {0: 0.75, 1: 0.5}
        for actor in actors:
            ray.kill(actor)
    finally:
        placement.remove()


@pytest.mark.slow
def test_two_runs_in_one_ray_session_do_not_clash(local_ray):
    resources = ResourcesConfig(cpus_per_learner=0.1, cpus_per_engine=0.1)
    first, second = place(resources, learners=1, engines=1), place(resources, learners=1, engines=1)
    assert first.learner_group.id != second.learner_group.id
    first.remove(), second.remove()


@pytest.mark.slow
def test_unreachable_request_fails_fast_naming_the_cluster(local_ray):
    resources = ResourcesConfig(gpus_per_learner=1, ready_timeout=2)
    with pytest.raises(RuntimeError, match=r"could not reserve 1 learner bundle.*'GPU': 1"):
        place(resources, learners=1, engines=1)
    assert not [g for g in ray.util.placement_group_table().values() if g["state"] != "REMOVED"]


def test_gpu_bundles_and_tensor_parallel_shards():
    resources = ResourcesConfig(gpus_per_engine=2, gpus_per_learner=1, cpus_per_engine=4, cpus_per_learner=8)
    assert learner_bundle(resources) == {"CPU": 8, "GPU": 1}
    assert engine_bundles(resources) == [{"CPU": 4, "GPU": 1}, {"GPU": 1}]
    colocated = ResourcesConfig(gpus_per_engine=1, gpus_per_learner=1, colocate=True)
    assert learner_bundle(colocated) == {"CPU": 1.0, "GPU": 1}


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match="resources.gpus_per_learner"):
        load_config(ResourcesConfig, overrides=["gpus_per_learner=2"])
    with pytest.raises(ConfigError, match="resources.colocate"):
        load_config(ResourcesConfig, overrides=["colocate=true", "gpus_per_engine=1"])
    with pytest.raises(ConfigError, match=r"resources.colocate.*engines x gpus_per_engine = 4 but there are 2"):
        ResourcesConfig(gpus_per_engine=2, gpus_per_learner=1, colocate=True).check_counts(learners=2, engines=2)
    with pytest.raises(ConfigError, match="resources.colocate"):
        ResourcesConfig(colocate=True).check_counts(learners=1, engines=2)
