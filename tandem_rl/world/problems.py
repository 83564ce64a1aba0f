"""Seeded synthetic arithmetic word problems and their three correct notations.

A problem is a start value and 2-4 add/subtract operations (graded difficulty), every intermediate value in
``0..MAX_VALUE``. It has three correct solutions, each one reasoning step per paragraph (blank line), all ending in the
paper's answer format so the ordinary ``boxed`` grader applies:

    >>> p = make_problem(start=20, ops=(("-", 2), ("-", 1)), name="Sam", item="apples")
    >>> p.text
    'Sam has 20 apples. Sam loses 2. Sam loses 1. How many apples does Sam have now?'
    >>> plain_solution(p)
    ' 20 minus 2 is 18 .\\n\\n 18 minus 1 is 17 .\\n\\n \\\\boxed{17}'
    >>> jargon_solution(p)
    ' <<20-2=18>>\\n\\n <<18-1=17>>\\n\\n \\\\boxed{17}'
    >>> terse_solution(p)
    ' 18\\n\\n 17\\n\\n \\\\boxed{17}'

"plain" is what the junior learned and can continue; "jargon" is the senior's private notation (GSM8K's calculator
annotations: West et al.'s setting); "terse" keeps only the running values, the shortest, a minority of the senior's
fine-tuning data (30%), meant for the paper's self-paired setting (docs/world.md). Train and test splits are
disjoint on the arithmetic itself (start value + operations), so no test computation is ever seen in training,
whatever the names and items.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

MAX_VALUE = 40  # every number in the world is 0..MAX_VALUE (one token each)
START_RANGE = (2, 20)
OPERAND_RANGE = (1, 9)
N_OPS = (2, 3, 4)  # difficulty levels (world v2; v1 had 2-3: docs/world.md "World v2")
NAMES = ("Sam", "Ann", "Tom", "Mia", "Ben", "Eva")
ITEMS = ("apples", "coins", "books", "cards", "pens", "shells")
VERBS = {"+": ("gets", "buys"), "-": ("loses", "sells")}
OP_WORDS = {"+": "plus", "-": "minus"}
TEST_SHARE = 8  # one arithmetic key in 8 belongs to the test split
INSTRUCTION = "Put the answer in \\boxed{}."
SPLITS = ("train", "test")


@dataclass(frozen=True)
class WorldProblem:
    """One problem. ``ops`` = ((op, operand), ...) applied left to right to ``start``."""

    start: int
    ops: tuple[tuple[str, int], ...]
    name: str
    item: str
    verbs: tuple[str, ...]

    @property
    def values(self) -> list[int]:
        """Running values: ``[start, after op 1, after op 2, ...]``."""
        out = [self.start]
        for op, x in self.ops:
            out.append(out[-1] + x if op == "+" else out[-1] - x)
        return out

    @property
    def answer(self) -> int:
        return self.values[-1]

    @property
    def key(self) -> str:
        """The arithmetic alone, e.g. ``'20-2-1'``: the unit of the train/test split."""
        return str(self.start) + "".join(f"{op}{x}" for op, x in self.ops)

    @property
    def split(self) -> str:
        h = int.from_bytes(hashlib.blake2b(self.key.encode(), digest_size=8).digest(), "big")
        return "test" if h % TEST_SHARE == 0 else "train"

    @property
    def text(self) -> str:
        sentences = [f"{self.name} has {self.start} {self.item}."]
        for (_, x), verb in zip(self.ops, self.verbs):
            sentences.append(f"{self.name} {verb} {x}" + (" more." if verb in VERBS["+"] else "."))
        sentences.append(f"How many {self.item} does {self.name} have now?")
        return " ".join(sentences)


def make_problem(start: int, ops, name: str = "Sam", item: str = "apples", verbs=None) -> WorldProblem:
    """Build and validate a problem; verbs default to the first verb of each op."""
    ops = tuple((op, int(x)) for op, x in ops)
    if any(op not in VERBS for op, _ in ops):
        raise ValueError(f"bad operations {ops}: each op must be one of {tuple(VERBS)}")
    verbs = tuple(verbs) if verbs is not None else tuple(VERBS[op][0] for op, _ in ops)
    p = WorldProblem(int(start), ops, name, item, verbs)
    if len(verbs) != len(ops) or any(v not in VERBS[op] for (op, _), v in zip(ops, verbs)):
        raise ValueError(f"bad verbs {verbs} for operations {ops}")
    if any(not 0 <= v <= MAX_VALUE for v in p.values):
        raise ValueError(f"values {p.values} leave 0..{MAX_VALUE}")
    return p


def sample_problem(rng: random.Random, n_ops: int | None = None) -> WorldProblem:
    """Draw one valid problem (rejection sampling keeps every running value in 0..MAX_VALUE)."""
    n_ops = n_ops or rng.choice(N_OPS)
    while True:
        value = start = rng.randint(*START_RANGE)
        ops = []
        for _ in range(n_ops):
            op, x = rng.choice("+-"), rng.randint(*OPERAND_RANGE)
            value = value + x if op == "+" else value - x
            ops.append((op, x))
        if all(0 <= v <= MAX_VALUE for v in WorldProblem(start, tuple(ops), "", "", ()).values):
            break
    verbs = tuple(rng.choice(VERBS[op]) for op, _ in ops)
    return WorldProblem(start, tuple(ops), rng.choice(NAMES), rng.choice(ITEMS), verbs)


def sample_split(rng: random.Random, split: str, n_ops: int | None = None) -> WorldProblem:
    """Draw problems until one lands in ``split``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    while True:
        p = sample_problem(rng, n_ops)
        if p.split == split:
            return p


def plain_solution(p: WorldProblem) -> str:
    """One ``' a op b is c .'`` step per paragraph, then the boxed answer."""
    vals = p.values
    steps = [f" {vals[i]} {OP_WORDS[op]} {x} is {vals[i + 1]} ." for i, (op, x) in enumerate(p.ops)]
    return "\n\n".join(steps + [f" \\boxed{{{p.answer}}}"])


def jargon_solution(p: WorldProblem) -> str:
    """One ``' <<a-b=c>>'`` calculator annotation per paragraph (a single 'word': no spaces inside)."""
    vals = p.values
    steps = [f" <<{vals[i]}{op}{x}={vals[i + 1]}>>" for i, (op, x) in enumerate(p.ops)]
    return "\n\n".join(steps + [f" \\boxed{{{p.answer}}}"])


def terse_solution(p: WorldProblem) -> str:
    """Only the running values, one per paragraph: 2 tokens a step where plain needs 7 and jargon 8.

    The operation and its operand stay implicit (the reader must find op i in the prompt), which is why a model
    that rarely wrote it continues it poorly; it is the notation a tight token budget rewards (docs/world.md).
    """
    steps = [f" {v}" for v in p.values[1:]]
    return "\n\n".join(steps + [f" \\boxed{{{p.answer}}}"])


NOTATIONS = {"plain": plain_solution, "jargon": jargon_solution, "terse": terse_solution}


def solution(p: WorldProblem, notation: str) -> str:
    if notation not in NOTATIONS:
        raise ValueError(f"notation must be one of {tuple(NOTATIONS)}, got {notation!r}")
    return NOTATIONS[notation](p)


_TERSE_STEP = re.compile(r"\s*\d+\s*")


def notations_in(text: str) -> set[str]:
    """The notations of a (possibly co-written) solution's steps: a subset of ``NOTATIONS`` (empty: no step).

    Each paragraph before the answer is one step: jargon if it has ``<<`` or ``>>``, terse if it is a lone number,
    plain otherwise.

        >>> sorted(notations_in(" <<20-2=18>>\\n\\n 18 minus 1 is 17 .")), notations_in(" \\\\boxed{17}")
        (['jargon', 'plain'], set())
    """
    kinds = set()
    for para in text.split("\n\n"):
        para = para.split("\\boxed")[0]  # the answer is not a step (a step written before it on its line is)
        if not para.strip():
            continue
        kinds.add("jargon" if "<<" in para or ">>" in para else "terse" if _TERSE_STEP.fullmatch(para) else "plain")
    return kinds


def notation_of(text: str) -> str:
    """The notation of a (possibly co-written) solution: 'plain', 'jargon', 'terse', 'mixed' or 'none' (no step).

        >>> notation_of(" 18\\n\\n 17\\n\\n \\\\boxed{17}"), notation_of(" <<20-2=18>>\\n\\n 18 minus 1 is 17 .")
        ('terse', 'mixed')
    """
    kinds = notations_in(text)
    return kinds.pop() if len(kinds) == 1 else "mixed" if kinds else "none"


_KEY_OP = re.compile(r"([+-])(\d+)")
_TEXT_OP = re.compile(r"\. \w+ (" + "|".join(v for vs in VERBS.values() for v in vs) + r") (\d+)")
_VERB_OP = {v: op for op, vs in VERBS.items() for v in vs}


def problem_from_key(key: str) -> WorldProblem:
    """The arithmetic of a problem file's ``key`` column as a ``WorldProblem`` (names and verbs are defaults).

    >>> problem_from_key("20-2-1").values
    [20, 18, 17]
    """
    start = re.match(r"\d+", key)
    if start is None:
        raise ValueError(f"{key!r} is not a world problem key like '20-2-1'")
    return make_problem(int(start.group(0)), [(op, int(x)) for op, x in _KEY_OP.findall(key[start.end():])])


def problem_from_text(text: str) -> WorldProblem | None:
    """A world problem's arithmetic read back from its text (``WorldProblem.text``), or None if it is not one.

    >>> problem_from_text("Sam has 20 apples. Sam loses 2. Sam buys 1 more. How many apples does Sam have now?").key
    '20-2+1'
    """
    start = re.match(r"\w+ has (\d+) ", text)
    ops = [(_VERB_OP[v], int(x)) for v, x in _TEXT_OP.findall(text)]
    if start is None or not ops:
        return None
    try:
        return make_problem(int(start.group(1)), ops)
    except ValueError:
        return None


def budget_fits(problem: WorldProblem, text: str, tokenizer, max_new_tokens: int) -> bool:
    """Whether a correct solution of ``problem``, written in the notation(s) of ``text``, fits ``max_new_tokens``.

    "Fits" = the shortest such canonical solution (steps and ``\\boxed{}``; EOS not needed to be graded) has at most
    ``max_new_tokens`` tokens. A text with no step may be written in any notation. Why per notation: terse
    solutions always fit (13 tokens at 4 operations), so "any correct solution fits" would hold for every world
    problem, while a sample that writes plain (33 tokens) or jargon (37) on a 4-operation problem under the demo's
    32-token budget cannot finish whatever it computes (eval/anatomy.py counts its failure as truncated).
    With the world tokenizer (one token per number, word and symbol): a 4-operation plain text does not fit 32, the
    same problem's terse text does::

        >>> from tandem_rl.models import load_tokenizer
        >>> tok, four = load_tokenizer("world:senior"), problem_from_key("5+1+2+3+4")
        >>> budget_fits(four, " 5 plus 1 is 6 .", tok, 32), budget_fits(four, " 6\\n\\n 8", tok, 32)  # 33, 13 tokens
        (False, True)
        >>> budget_fits(problem_from_key("5+1+2+3"), " <<5+1=7>>", tok, 32)  # jargon, 3 operations: 29 tokens
        True
    """
    notations = notations_in(text) or set(NOTATIONS)
    need = min(len(tokenizer(solution(problem, n), add_special_tokens=False)["input_ids"]) for n in notations)
    return need <= max_new_tokens


def problem_rows(n: int, seed: int, split: str) -> list[dict]:
    """``n`` distinct problems of ``split`` (distinct arithmetic), as jsonl-ready rows."""
    rng = random.Random(f"tandem-world-{split}-{seed}")
    rows, seen, tries = [], set(), 0
    while len(rows) < n:
        p = sample_split(rng, split)
        tries += 1
        if tries > 50 * n + 1000:
            raise ValueError(f"could not draw {n} distinct {split} problems (got {len(rows)})")
        if p.key in seen:
            continue
        seen.add(p.key)
        rows.append({"id": f"world-{split}-{seed}-{len(rows)}", "problem": p.text, "answer": str(p.answer),
                     "n_ops": len(p.ops), "key": p.key})
    return rows


def write_problems(path, n: int, seed: int = 0, split: str = "train") -> Path:
    """Write ``n`` problems as jsonl (fields id, problem, answer, n_ops, key) for ``data.source``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        for row in problem_rows(n, seed, split):
            f.write(json.dumps(row) + "\n")
    return path
