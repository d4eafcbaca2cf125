"""A KV cache whose appends write in place: the transformers engine's decode cache.

transformers' ``DynamicCache`` appends each decode step's keys and values with ``torch.cat``, so every step
copies the whole cache of every layer: on a small model the copies cost a quarter of a rollout. Here each
layer reserves room for the prompt and every new token once (growing by doubling if a caller writes past
it), writes new positions into that room, and hands attention a view of the filled part.
"""

from __future__ import annotations

import torch
from transformers.cache_utils import Cache, CacheLayerMixin


class ReservedLayer(CacheLayerMixin):
    """One layer's keys and values ``(B, H_kv, length, D)``: views of buffers ``(B, H_kv, capacity, D)``."""

    is_sliding = False

    def __init__(self, capacity: int):
        super().__init__()
        self.capacity = capacity
        self.length = 0
        self._key_buffer: torch.Tensor | None = None
        self._value_buffer: torch.Tensor | None = None

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Write ``(B, H_kv, T, D)`` new states after the filled part; return the filled part, new states included."""
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        end = self.length + key_states.shape[-2]
        if end > self._key_buffer.shape[-2]:
            self._reserve(key_states, value_states, max(end, self.capacity, 2 * self.length))
        self._key_buffer[:, :, self.length:end] = key_states
        self._value_buffer[:, :, self.length:end] = value_states
        self.length = end
        self._expose()
        return self.keys, self.values

    def _reserve(self, key_states: torch.Tensor, value_states: torch.Tensor, capacity: int) -> None:
        """(Re)allocate the buffers with room for ``capacity`` positions, keeping the filled part."""
        def buffer(states: torch.Tensor, old: torch.Tensor | None) -> torch.Tensor:
            batch, heads, _, dim = states.shape
            new = states.new_empty((batch, heads, capacity, dim))
            if old is not None:
                new[:, :, : self.length] = old[:, :, : self.length]
            return new

        self._key_buffer = buffer(key_states, self._key_buffer)
        self._value_buffer = buffer(value_states, self._value_buffer)

    def _expose(self) -> None:
        self.keys = self._key_buffer[:, :, : self.length]
        self.values = self._value_buffer[:, :, : self.length]

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self._reserve(key_states, value_states, self.capacity)
        self.is_initialized = True

    def get_seq_length(self) -> int:
        return self.length

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        """(key length, key offset) of the attention mask for ``query_length`` new positions."""
        return self.length + query_length, 0

    def get_max_length(self) -> int:
        return -1   # grows past ``capacity`` when written past it

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        """Keep only the batch rows ``indices`` (rows that stopped generating leave the cache)."""
        if self._key_buffer is not None:
            self._key_buffer = self._key_buffer[indices]
            self._value_buffer = self._value_buffer[indices]
            self._expose()


def reserved_cache(num_layers: int, capacity: int) -> Cache:
    """A cache of ``num_layers`` :class:`ReservedLayer`\\ s, each with room for ``capacity`` positions."""
    return Cache(layers=[ReservedLayer(capacity) for _ in range(num_layers)])
