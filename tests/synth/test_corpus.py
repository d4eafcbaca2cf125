"""The pretraining corpus: train-split problems only, true drill facts, a seeded order."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest

from data_synthesis.corpus import CorpusConfig, build_corpus, table_facts
from data_synthesis.families import generate_problems, split_of
from satori.config import ConfigError

SMALL = dict(families=["arith", "fractions", "linear"], difficulties=[0, 1], problems=300, table_max=5)


@pytest.fixture(scope="module")
def corpus():
    return build_corpus(CorpusConfig(**SMALL), seed=0)


def test_no_test_split_problem_enters_the_corpus(corpus):
    questions = [re.match(r"Problem: (.*)\nSolution: ", d["text"]).group(1)
                 for d in corpus if d["kind"] == "solution"]
    assert len(questions) == 3 * 2 * 300
    for question in questions:
        family = "linear" if question.startswith("Solve") else (
            "fractions" if "lowest terms" in question else "arith")
        assert split_of(f"{family}|{question}") == "train", question
    held_out = {p.question for family in SMALL["families"] for level in SMALL["difficulties"]
                for p in generate_problems(family, 150, seed=0, split="test", difficulty=level)}
    text = "\n".join(d["text"] for d in corpus)
    assert not [q for q in held_out if f"Problem: {q}\n" in text]
    assert {q.split()[0] for q in questions} == {"Compute", "Solve"}


def _holds(fact: str) -> bool:
    left, right = fact.split(" = ")
    a, op, b = re.fullmatch(r"(\(?-?[\d/]+\)?) ([-+*/]) (\(?-?[\d/]+\)?)", left).groups()
    a, b = Fraction(a.strip("()")), Fraction(b.strip("()"))
    result = a + b if op == "+" else a - b if op == "-" else a * b if op == "*" else a / b
    return result == Fraction(right)


def test_every_drill_fact_holds(corpus):
    facts = [line for d in corpus if d["kind"] == "drill" for line in d["text"].split("\n")]
    assert len(facts) > len(table_facts(5))  # the tables and the problems' own step claims
    wrong = [fact for fact in facts if " = " in fact and re.fullmatch(r"[-+*/()\d ]+ = [-\d/]+", fact)
             and not _holds(fact)]
    assert not wrong
    assert "5 - 3 = 2" in facts and "12 * 5 = 60" in facts


def test_corpus_is_seeded():
    small = dict(SMALL, problems=20)
    assert build_corpus(CorpusConfig(**small), seed=0) == build_corpus(CorpusConfig(**small), seed=0)
    assert build_corpus(CorpusConfig(**small), seed=0) != build_corpus(CorpusConfig(**small), seed=1)


def test_bad_corpus_settings_name_the_key():
    from satori.config import load_config
    from train.pretrain import PretrainConfig

    with pytest.raises(ConfigError, match="corpus.families"):
        load_config(PretrainConfig, None, ["corpus.families=[algebra]"])
    with pytest.raises(ConfigError, match="model.source"):
        load_config(PretrainConfig, None, ["model.source=some/folder"])
