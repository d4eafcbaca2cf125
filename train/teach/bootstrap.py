"""In-process tiny teacher and student (``model.teacher: tiny``): the CPU default and the test fixture.

One byte-level BPE tokenizer is trained on the teacher and student layouts of training
problems; two small decoders are built for it and warmed up by next-token training on
reference explanations written by the scripted synthesis agents (a correct solution plus its
check): the teacher learns to explain a given solution, the student to read an explanation
and then write the solution. The warm-up is short on purpose, so GRPO has room to improve.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import torch

from data_synthesis.agents import Request, ScriptedCritic, ScriptedGenerator
from data_synthesis.demos import render_demo
from satori.config import ConfigError
from satori.problems import Problem
from satori.prompts import build_prompt
from satori.run_config import set_threads
from train.checkpoint import write_dir_atomically
from train.rl.problem_sets import PROCEDURAL, load_problem_set
from train.sft.data import Encoded, collate
from train.sft.trainer import response_loss_sum
from train.teach.config import TeachConfig
from train.teach.formats import student_response, teacher_prompt, teacher_target

BOOTSTRAP_DIR = "bootstrap"


def reference_explanations(problems: list[Problem], variant: str) -> list[str]:
    """A scripted explanation per procedural problem: COAT (``variant="coat"``) or plain lines."""
    attempts = ScriptedGenerator(mistake_rate=0.0).generate([Request(p, seed=0) for p in problems])
    checks = ScriptedCritic().verification(problems, attempts)
    if variant == "coat":
        return [render_demo([a], [], c) for a, c in zip(attempts, checks)]
    return ["\n".join([*a.steps, c.reflection]) for a, c in zip(attempts, checks)]


def bootstrap_tiny(config: TeachConfig) -> tuple[Path, Path]:
    """``RUN/bootstrap/{teacher,student}`` HF folders (built once; reused when present)."""
    folder = Path(config.run_dir) / BOOTSTRAP_DIR
    if (folder / "student").is_dir():
        return folder / "teacher", folder / "student"
    if not config.data.train.startswith(PROCEDURAL):
        raise ConfigError("key 'model.teacher': tiny models are warmed up on scripted explanations of procedural "
                          f"problems; set data.train to procedural:FAMILIES (it is {config.data.train!r})")
    from satori.tiny import build_model, build_tokenizer

    set_threads(config.threads)
    tiny, fmt = config.model.tiny, config.format
    problems = load_problem_set(config.data.train, tiny.warmup_problems, "train", config.seed + 17,
                                config.data.difficulty)
    explanations = reference_explanations(problems, fmt.variant)
    teacher_texts = [(teacher_prompt(fmt, p.question, p.solution), teacher_target(fmt, e))
                     for p, e in zip(problems, explanations)]
    student_texts = [(build_prompt(p.question, fmt.student_template), student_response(fmt, e, p.solution))
                     for p, e in zip(problems, explanations)]
    tokenizer = build_tokenizer([a + b for a, b in teacher_texts + student_texts], vocab_size=tiny.vocab_size)
    sizes = {"hidden_size": tiny.hidden_size, "num_layers": tiny.num_layers, "num_heads": tiny.num_heads}
    for name, texts, steps, seed in (("teacher", teacher_texts, tiny.teacher_steps, config.seed),
                                     ("student", student_texts, tiny.student_steps, config.seed + 1)):
        model = build_model(tokenizer, seed=seed, **sizes)
        warm_up(model, tokenizer, texts, steps, tiny.batch_size, tiny.lr, seed)

        def write(tmp: Path, model: Any = model) -> None:
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
        write_dir_atomically(folder / name, write)
    return folder / "teacher", folder / "student"


def warm_up(model: Any, tokenizer: Any, texts: list[tuple[str, str]], steps: int, batch_size: int, lr: float,
            seed: int) -> None:
    """``steps`` AdamW steps of next-token loss on the second text of each pair (EOS appended)."""
    encoded = [Encoded(tokenizer.encode(prompt, add_special_tokens=False),
                       tokenizer.encode(response, add_special_tokens=False) + [tokenizer.eos_token_id])
               for prompt, response in texts]
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    rng = random.Random(seed)
    model.train()
    for _ in range(steps):
        batch = collate([[e] for e in rng.sample(encoded, min(batch_size, len(encoded)))], tokenizer.pad_token_id)
        loss_sum, count = response_loss_sum(model, batch)
        optimizer.zero_grad(set_to_none=True)
        (loss_sum / max(count, 1)).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    model.eval()
