"""LLM-backed roles on real backends: transformers in-process, vLLM (CPU), OpenAI-compatible HTTP."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from data_synthesis.agents import (LLMCritic, LLMGenerator, OutcomeRewardModel, Request, Reward)
from data_synthesis.backends import make_backend
from data_synthesis.backends.base import Reply, TextBackend
from data_synthesis.backends.engine import EngineBackend
from data_synthesis.backends.openai_compat import OpenAICompatBackend
from data_synthesis.cli import synthesize
from data_synthesis.config import BackendConfig, SynthConfig
from data_synthesis.pipeline import Synthesizer, run_synthesis
from satori import coat
from satori.config import load_config
from satori.engines.base import SamplingParams
from satori.engines.hf import HFEngine
from satori.grading import VerifierPool
from satori.problems import Problem

PROMPTS = ["Solve: 2 + 3 =", "Problem: 12 + 30 = ?"]


@pytest.fixture(scope="module")
def pool():
    with VerifierPool(workers=1, warm_up=False) as verifier:
        yield verifier


@pytest.fixture(scope="module")
def hf_backend(tiny_model, tiny_tokenizer):
    return EngineBackend("tiny-hf", HFEngine(tiny_model, tiny_tokenizer), tiny_tokenizer)


def greedy_text(backend: TextBackend, prompts: list[str], tokens: int = 12) -> list[str]:
    return [r.text for r in backend.complete(prompts, tokens, 0.0, [0] * len(prompts))]


@pytest.mark.slow
def test_transformers_backend_runs_the_llm_roles(hf_backend, pool, tmp_path):
    problems = [Problem(f"p{i}", f"What is {i} + {i}?", str(2 * i), source="t") for i in range(2)]
    config = load_config(SynthConfig, None, [f"run_dir={tmp_path}", "progress=false", "max_rounds=2",
                                             "agents.generator=tiny", "agents.critic=tiny",
                                             "agents.backends={tiny: {kind: hf, model: unused}}"])
    generator = LLMGenerator(hf_backend, max_new_tokens=8, temperature=0.0)
    synthesizer = Synthesizer(config, generator, LLMCritic(hf_backend, max_new_tokens=8), Reward(pool))
    stats = run_synthesis(config, problems, synthesizer)
    assert stats["problems"] == 2
    assert stats["demos"] + sum(stats["rejections"].values()) == 2
    assert stats["tokens_per_backend"]["tiny-hf"] > 0
    assert hf_backend.usage.requests >= 2 and hf_backend.usage.completion_tokens > 0


@pytest.mark.slow
def test_vllm_backend_matches_transformers(tiny_model, tiny_tokenizer, hf_backend, tmp_path_factory):
    pytest.importorskip("vllm")
    folder = tmp_path_factory.mktemp("tiny-vllm")
    tiny_model.save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    config = BackendConfig(kind="vllm", model=str(folder),
                           engine_kwargs={"max_model_len": 256, "kv_cache_gib": 0.25})
    # the tokenizer is passed in: reloaded from a folder beside a qwen2 config, AutoTokenizer picks
    # Qwen2Tokenizer, whose pre-tokenizer splits digits differently from the tiny BPE's
    backend = make_backend("tiny-vllm", config, tiny_tokenizer)
    try:
        assert greedy_text(backend, PROMPTS) == greedy_text(hf_backend, PROMPTS)
        assert backend.usage.requests == 2 and backend.usage.completion_tokens > 0
    finally:
        backend.close()


class ChatServer(ThreadingHTTPServer):
    """A chat-completions endpoint serving a tiny transformers model, with scripted failures."""

    def __init__(self, engine: HFEngine, tokenizer):
        super().__init__(("127.0.0.1", 0), ChatHandler)
        self.engine, self.tokenizer = engine, tokenizer
        self.lock = threading.Lock()
        self.failed_once: set[str] = set()
        self.hits: list[str] = []


class ChatHandler(BaseHTTPRequestHandler):
    server: ChatServer

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        content = body["messages"][-1]["content"]
        with self.server.lock:
            self.server.hits.append(content)
            fail_once = "FAIL_ONCE" in content and content not in self.server.failed_once
            self.server.failed_once.add(content)
        if self.headers.get("Authorization") != "Bearer test-key":
            return self._send(401, {"error": "bad key"})
        if "FAIL_ALWAYS" in content or fail_once:
            return self._send(500, {"error": "internal"})
        if "SLOW" in content:
            time.sleep(1.0)
        ids = self.server.tokenizer.encode(content, add_special_tokens=False)
        params = SamplingParams(max_new_tokens=body["max_tokens"], temperature=0.0)
        with self.server.lock:
            (completion,) = self.server.engine.generate([ids], params)[0]
        self._send(200, {"choices": [{"message": {"role": "assistant", "content": completion.text}}],
                         "usage": {"prompt_tokens": len(ids), "completion_tokens": len(completion.token_ids)}})

    def _send(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def server(tiny_model, tiny_tokenizer):
    httpd = ChatServer(HFEngine(tiny_model, tiny_tokenizer), tiny_tokenizer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def http_backend(server, **kwargs) -> OpenAICompatBackend:
    options = dict(api_key_env="SYNTH_TEST_KEY", max_concurrency=3, timeout=5.0, max_retries=2, backoff=0.01)
    options.update(kwargs)
    return OpenAICompatBackend("http", f"http://127.0.0.1:{server.server_port}/v1", "tiny", **options)


def test_openai_backend_retries_and_records_failures(server, hf_backend, monkeypatch):
    monkeypatch.setenv("SYNTH_TEST_KEY", "test-key")
    backend = http_backend(server)
    ok, flaky, broken = backend.complete([PROMPTS[0], "FAIL_ONCE 1 + 1 =", "FAIL_ALWAYS 1 + 1 ="], 12, 0.0, [0, 1, 2])
    assert ok.error is None and ok.text == greedy_text(hf_backend, PROMPTS[:1])[0] and ok.attempts == 1
    assert ok.completion_tokens > 0 and ok.prompt_tokens > 0
    assert flaky.error is None and flaky.attempts == 2
    assert broken.error.startswith("HTTP 500") and "gave up after 3 tries" in broken.error
    assert server.hits.count("FAIL_ALWAYS 1 + 1 =") == 3
    assert backend.usage.to_dict() | {"prompt_tokens": 0, "completion_tokens": 0} == {
        "requests": 3, "failures": 1, "retries": 3, "prompt_tokens": 0, "completion_tokens": 0}
    slow = http_backend(server, timeout=0.3, max_retries=1).complete(["SLOW 2 + 2 ="], 4, 0.0, [0])[0]
    assert "timed out" in slow.error and slow.attempts == 2


def test_openai_backend_key_handling(server, monkeypatch):
    monkeypatch.delenv("SYNTH_TEST_KEY", raising=False)
    with pytest.raises(ValueError, match="SYNTH_TEST_KEY"):
        http_backend(server)
    monkeypatch.setenv("SYNTH_TEST_KEY", "wrong")
    reply = http_backend(server).complete(["1 + 1 ="], 4, 0.0, [0])[0]
    assert reply.error.startswith("HTTP 401") and reply.attempts == 1       # not retried


@pytest.mark.slow
def test_cli_run_over_http_records_the_failed_request(server, monkeypatch, tmp_path):
    monkeypatch.setenv("SYNTH_TEST_KEY", "test-key")
    problems = tmp_path / "problems.jsonl"
    problems.write_text('{"id": "a", "question": "What is 2 + 2?", "answer": "4"}\n'
                        '{"id": "b", "question": "FAIL_ALWAYS What is 3 + 3?", "answer": "6"}\n')
    out = tmp_path / "out"
    config = load_config(SynthConfig, Path(__file__).parents[2] / "configs" / "synth_gsm8k_openai.yaml", [
        f"run_dir={out}", f"source.file.path={problems}", "progress=false", "agents.attempts_per_problem=1",
        "agents.max_new_tokens=8", "agents.verifier_workers=1", "agents.verifier_warm_up=false",
        "agents.backends.teacher.api_key_env=SYNTH_TEST_KEY",
        f"agents.backends.teacher.base_url=http://127.0.0.1:{server.server_port}/v1",
        "agents.backends.teacher.backoff=0.01", "agents.backends.teacher.max_retries=1"])
    stats = synthesize(config)
    failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert {"id": "b", "stage": "generate"}.items() <= failures[0].items()
    assert "HTTP 500" in failures[0]["error"]
    assert stats["failed_requests"] >= 1 and stats["rejections"]["agent_error"] >= 1
    assert stats["backend_usage_this_run"]["teacher"]["failures"] >= 1
    assert stats["tokens_per_backend"]["teacher"] > 0


class CannedTeacher(TextBackend):
    """Stands in for a strong teacher model (the roles and the pipeline are under test here)."""

    def complete(self, prompts, max_new_tokens, temperature, seeds):
        replies = []
        for prompt in prompts:
            if "Find the first incorrect step" in prompt:
                text = "Step 2 is wrong: 6 * 7 is 42, not 48."
            elif "Check the final answer" in prompt:
                text = "42 / 7 = 6, so the answer checks out."
            elif "A reviewer found an error" in prompt:
                text = "6 * 7 = 42.\nSo the answer is \\boxed{42}."
            else:
                text = "We need 6 * 7.\n6 * 7 = 48.\nSo the answer is \\boxed{48}.<|eos|>"
            replies.append(Reply(text, 10, 5))
        for reply in replies:
            self.usage.add(reply)
        return replies


def test_llm_roles_assemble_a_verified_demo(pool, tmp_path):
    teacher = CannedTeacher("teacher")
    config = load_config(SynthConfig, None, [f"run_dir={tmp_path}", "progress=false",
                                             "kinds={error_reflect_explore: 1.0}", "prompt_template=Q: {question} A:"])
    problem = Problem("q", "What is 6 * 7?", "42", source="t")
    synthesizer = Synthesizer(config, LLMGenerator(teacher), LLMCritic(teacher), Reward(pool))
    stats = run_synthesis(config, [problem], synthesizer)
    demo = json.loads((tmp_path / "demos.jsonl").read_text())
    assert stats["kinds"]["error_reflect_explore"] == 1 and stats["tokens_per_backend"] == {"teacher": 45}
    assert demo["template"] == "Q: {question} A:" and demo["prompt"] == "Q: What is 6 * 7? A:"
    assert demo["mistakes"] == []
    assert [s.name for s in coat.parse(demo["coat"])] == ["continue"] * 3 + ["reflect", "explore", "continue"]
    assert "<|reflect|>Wait, step 2 is wrong: 6 * 7 is 42, not 48.\n<|explore|>Instead, 6 * 7 = 42.\n" in demo["coat"]
    attempt = LLMGenerator(teacher).generate([Request(problem, seed=0)])[0]
    assert attempt.steps[-1] == "So the answer is \\boxed{48}." and attempt.answer == "48"


def test_outcome_reward_model_ranks_candidates(tiny_model, tiny_tokenizer, pool):
    import torch
    from transformers import Qwen2ForSequenceClassification

    config = tiny_model.config.__class__.from_dict({**tiny_model.config.to_dict(), "num_labels": 1})
    torch.manual_seed(0)
    orm = OutcomeRewardModel(Qwen2ForSequenceClassification(config), tiny_tokenizer)
    solutions = ["1 + 1 = 2. \\boxed{2}", "1 + 1 = 3. \\boxed{3}", "\\boxed{11}"]
    scores = orm.score(["What is 1 + 1?"] * 3, solutions)
    assert len(scores) == 3 and len(set(scores)) == 3
    problem = Problem("q", "What is 1 + 1?", "2")
    from data_synthesis.agents import Attempt

    order = Reward(pool, orm).rank(problem, [Attempt([s], None) for s in solutions])
    assert order == sorted(range(3), key=lambda i: -scores[i])
