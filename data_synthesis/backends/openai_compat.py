"""A text backend for any OpenAI-compatible ``/chat/completions`` endpoint (standard library only).

Requests run on a bounded thread pool; each is retried with exponential backoff on network
errors, timeouts, HTTP 429 and 5xx; other HTTP errors fail at once. A request that finally
fails comes back as a ``Reply`` with ``error`` set, for the caller to record.
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from data_synthesis.backends.base import Reply, TextBackend

RETRY_STATUSES = {408, 409, 425, 429, 500, 502, 503, 504}


class OpenAICompatBackend(TextBackend):
    """Chat completions over HTTP.

    Args:
        base_url: e.g. ``http://127.0.0.1:8000/v1`` (``/chat/completions`` is appended).
        model: the model name the server expects.
        api_key_env: name of the environment variable holding the API key (None: no key).
        max_concurrency: requests in flight at most.
        timeout: seconds per HTTP request.
        max_retries: extra tries after the first; ``backoff * 2**k`` seconds before try ``k + 1``.
    """

    def __init__(self, name: str, base_url: str, model: str, api_key_env: str | None = None,
                 max_concurrency: int = 4, timeout: float = 60.0, max_retries: int = 3, backoff: float = 1.0):
        super().__init__(name)
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.headers = {"Content-Type": "application/json"}
        if api_key_env:
            key = os.environ.get(api_key_env)
            if not key:
                raise ValueError(f"backend {name!r}: environment variable {api_key_env} (api_key_env) is not set; "
                                 "export it or set api_key_env to null for a server without keys")
            self.headers["Authorization"] = f"Bearer {key}"
        self.max_concurrency = max_concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff

    def complete(self, prompts: list[str], max_new_tokens: int, temperature: float,
                 seeds: list[int]) -> list[Reply]:
        if not prompts:
            return []
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(prompts))) as pool:
            replies = list(pool.map(lambda args: self._request(*args, max_new_tokens, temperature),
                                    zip(prompts, seeds)))
        for reply in replies:
            self.usage.add(reply)
        return replies

    def _request(self, prompt: str, seed: int, max_new_tokens: int, temperature: float) -> Reply:
        body = json.dumps({"model": self.model, "messages": [{"role": "user", "content": prompt}],
                           "max_tokens": max_new_tokens, "temperature": temperature, "seed": seed}).encode()
        error = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                request = urllib.request.Request(self.url, data=body, headers=self.headers, method="POST")
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    data = json.loads(response.read().decode("utf-8"))
                return self._reply(data, attempt + 1)
            except urllib.error.HTTPError as exc:
                error = f"HTTP {exc.code}: {exc.read()[:200].decode('utf-8', 'replace')}"
                if exc.code not in RETRY_STATUSES:
                    return Reply(error=error, attempts=attempt + 1)
            except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError) as exc:
                error = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                return Reply(error=f"malformed response: {exc}", attempts=attempt + 1)
        return Reply(error=f"{error} (gave up after {self.max_retries + 1} tries)", attempts=self.max_retries + 1)

    @staticmethod
    def _reply(data: dict, attempts: int) -> Reply:
        text = data["choices"][0]["message"]["content"]
        if not isinstance(text, str):
            raise ValueError("choices[0].message.content is not a string")
        usage = data.get("usage") or {}
        return Reply(text, int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)),
                     attempts=attempts)
