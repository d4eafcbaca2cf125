"""Worker-side half of the vLLM engine: weight loading inside vLLM's worker processes.

vLLM imports :class:`WeightSyncExtension` by its qualified name in every worker (passed as
``worker_extension_cls``) and mixes it into its worker class; the engine then calls these
methods through ``LLM.collective_rpc``. Everything here leans on vLLM 0.32.0 internals
(``model_runner.model.load_weights``, the CPU GEMM dispatch), like ``satori.engines.vllm_engine``.

CPU build: at load time vLLM repacks each linear weight for oneDNN and drops the plain tensor,
so loading new weights afterwards would leave the packed copies stale. Importing this module in a
CPU worker (which vLLM does before it builds the model) makes the dispatch keep the plain
weights; after each load the packed kernels are rebuilt from them (:func:`_repack_cpu_linears`).
It also runs the sampled-token rank count eagerly: vLLM compiles it with inductor, which costs
about 15 s at the first generate of every CPU process, for a count nobody here reads.
"""

from __future__ import annotations

from typing import Any

import torch
from vllm.model_executor.layers import utils as _layer_utils
from vllm.platforms import current_platform

_original_cpu_dispatch = _layer_utils.dispatch_cpu_unquantized_gemm


def _dispatch_keeping_weight(layer: torch.nn.Module, remove_weight: bool) -> None:
    """vLLM's CPU GEMM dispatch, but the plain weight stays so it can be reloaded (costs its memory)."""
    _original_cpu_dispatch(layer, remove_weight=False)
    layer._satori_repack = True


def _repack_cpu_linears(model: torch.nn.Module) -> int:
    """Rebuild the packed CPU GEMM kernels of every layer from its (reloaded) plain weight."""
    count = 0
    for module in model.modules():
        if getattr(module, "_satori_repack", False):
            _original_cpu_dispatch(module, remove_weight=False)
            count += 1
    return count


def _count_at_least(x: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Per row of ``x`` (B, V), how many entries are >= ``values`` (B, 1): the token ranks, (B,)."""
    return (x >= values).sum(-1)


if current_platform.is_cpu():
    from vllm.v1.sample import sampler as _sampler

    _layer_utils.dispatch_cpu_unquantized_gemm = _dispatch_keeping_weight
    _sampler.batched_count_greater_than = _count_at_least


class WeightSyncExtension:
    """Methods mixed into vLLM's worker class (names prefixed to avoid clashing with the worker's)."""

    def satori_load_weights(self, tensors: dict[str, torch.Tensor]) -> int:
        """Load Hugging Face-named tensors (a worker in the caller's process); returns their count."""
        self._satori_load(tensors.items())
        return len(tensors)

    def satori_load_weights_file(self, path: str) -> int:
        """Load a safetensors file of Hugging Face-named tensors into the running model; returns their count."""
        from safetensors.torch import load_file

        return self.satori_load_weights(load_file(path))

    def satori_init_weight_group(self, master_address: str, master_port: int, rank_offset: int,
                                 world_size: int) -> None:
        """GPU: join a NCCL group with the learner (rank 0) to receive weights by broadcast."""
        from vllm.distributed.device_communicators.pynccl import PyNcclCommunicator
        from vllm.distributed.utils import StatelessProcessGroup

        group = StatelessProcessGroup.create(host=master_address, port=master_port,
                                             rank=rank_offset + self.rank, world_size=world_size)
        self._satori_group = PyNcclCommunicator(group, device=self.device)

    def satori_receive_weights(self, specs: list[tuple[str, str, list[int]]]) -> int:
        """GPU: receive each ``(name, dtype, shape)`` tensor broadcast by the learner and load it."""
        group = self._satori_group

        def received() -> Any:
            for name, dtype, shape in specs:
                tensor = torch.empty(shape, dtype=getattr(torch, dtype), device=self.device)
                group.broadcast(tensor, src=0, stream=torch.cuda.current_stream())
                yield name, tensor

        self._satori_load(received())
        return len(specs)

    def _satori_load(self, named_tensors: Any) -> None:
        model = self.model_runner.model
        model.load_weights(weights=named_tensors)
        if current_platform.is_cpu():
            _repack_cpu_linears(model)
