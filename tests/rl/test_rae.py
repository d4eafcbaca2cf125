import json

from satori.coat import CONTINUE, REFLECT
from satori.problems import Problem
from train.rl.rae import RestartBuffer, RolloutPrompt, restart_from, shorten_to_fit

TRAJ = f"{CONTINUE}12 + 5 = 17.\n{CONTINUE}17 * 2 = 34.\n{REFLECT}Check 17*2 = 34, ok.\n{CONTINUE}\\boxed{{34}}"
PROMPT = RolloutPrompt.plain(Problem("p1", "(12 + 5) * 2", "34"))


def test_restart_keeps_whole_steps_and_appends_reflect():
    state = restart_from(PROMPT, TRAJ, correct=True, backtrack=2)
    assert state.prefix == f"{CONTINUE}12 + 5 = 17.\n{CONTINUE}17 * 2 = 34.\n{REFLECT}"
    assert state.reflect_status == 1 and state.question == PROMPT.question and state.gold == "34"
    wrong = restart_from(PROMPT, TRAJ, correct=False, backtrack=3)
    assert wrong.prefix == f"{CONTINUE}12 + 5 = 17.\n{REFLECT}" and wrong.reflect_status == -1
    assert restart_from(PROMPT, TRAJ, correct=True, backtrack=4) is None
    assert restart_from(PROMPT, "not coat \\boxed{1}", correct=True, backtrack=1) is None


def test_shorten_to_fit_drops_trailing_steps_never_the_reflect_or_question():
    state = restart_from(PROMPT, TRAJ, correct=False, backtrack=1)
    length = lambda p: len(p.question) + len(p.prefix)  # noqa: E731  (a character "tokenizer")
    fitted = shorten_to_fit(state, length, max_len=length(state) - 1)
    assert fitted.prefix.endswith(REFLECT) and len(fitted.prefix) < len(state.prefix)
    assert fitted.prefix == f"{CONTINUE}12 + 5 = 17.\n{CONTINUE}17 * 2 = 34.\n{REFLECT}"
    assert shorten_to_fit(state, length, max_len=len(PROMPT.question) + 5) is None
    assert shorten_to_fit(PROMPT, length, max_len=3) is None  # plain prompts are dropped, not cut
    assert shorten_to_fit(PROMPT, length, max_len=100) is PROMPT


def test_buffer_is_bounded_balanced_and_resumable():
    buffer = RestartBuffer(capacity=5, min_backtrack=1, max_backtrack=2, seed=3)
    for i in range(8):
        assert buffer.add(PROMPT, TRAJ, correct=i % 4 == 0)
    assert len(buffer.pools[1]) == 2 and len(buffer.pools[-1]) == 5
    picked = buffer.sample(4)
    assert sorted(p.reflect_status for p in picked) == [-1, -1, 1, 1]
    assert [p.reflect_status for p in buffer.sample(6)].count(1) == 2  # short pool tops up from the other
    state = json.loads(json.dumps(buffer.state_dict()))
    clone = RestartBuffer(capacity=5, min_backtrack=1, max_backtrack=2)
    clone.load_state_dict(state)
    assert clone.sample(3) == buffer.sample(3)
    assert not buffer.add(PROMPT, f"{CONTINUE}\\boxed{{34}}", correct=True)  # one step: nothing to keep
