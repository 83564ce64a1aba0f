"""Validation-based checkpoint selection in a real (tiny) training run (issue 16): the history, the kept best across
``keep_last`` pruning, resume, ``RUN@best`` for the evaluation, and the default hook left as it was."""

import json

import pytest
import torch

from tandem_rl.config import load_config
from tandem_rl.eval.runner import resolve_checkpoint
from tandem_rl.train import loop
from tandem_rl.train.checkpoint import best_record
from tiny import train_until_killed


def _cfg(digit_task, out, *extra):
    model, problems = digit_task
    return load_config(None, [
        f"model.senior={model}", f"data.source={problems}", "data.instruction=", f"train.output_dir={out}",
        "train.prompts_per_step=4", "grpo.group_size=4", "rollout.max_new_tokens=8", "rollout.temperature=1.0",
        "reward.workers=0", "train.loggers=[jsonl]", "train.lr=3e-3", "train.dump_rollouts_every=0",
        "data.holdout=6", "train.eval_every=1", "train.eval_samples=3", "train.eval_greedy=false",
        "train.eval_temperature=1.0", "train.eval_top_p=1.0", "train.eval_top_k=0", "train.best_metric=eval_pass@1",
        "train.save_every=1", *extra])


def _lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def _weights(path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path).state_dict()


def test_best_is_kept_across_pruning_and_matches_the_history(digit_task, tmp_path):
    steps = "train.steps=5"
    pruned = loop.train(_cfg(digit_task, tmp_path / "pruned", steps, "train.keep_last=1"), progress=False)
    everything = loop.train(_cfg(digit_task, tmp_path / "all", steps, "train.keep_last=0"), progress=False)
    hist = _lines(pruned / "validation.jsonl")
    assert [h["step"] for h in hist] == [1, 2, 3, 4, 5]
    assert {"eval_pass@1", "eval_pass@2", "eval_pass@3", "eval_pass@1/holdout", "eval_solo_acc"} <= set(hist[0])
    values = [h["eval_pass@1"] for h in hist]
    best_step = 1 + values.index(max(values))  # the first step reaching the maximum
    assert best_step < 5 and len(set(values)) > 1, values  # else the pruning check below would be vacuous
    running, flags = -1.0, []
    for v in values:
        flags.append(v > running)
        running = max(running, v)
    assert [h["best"] for h in hist] == flags
    record = best_record(pruned)
    assert record == {"step": best_step, "checkpoint": f"step_{best_step:06d}", "metric": "eval_pass@1",
                      "value": max(values)}
    ck = sorted(p.name for p in (pruned / "checkpoints").glob("step_*"))
    assert ck == ["step_000005"]  # keep_last=1 pruned the best step's own folder (unless it is the last)...
    best_w = _weights(resolve_checkpoint(f"{pruned}@best"))  # ...but best/ holds its weights
    same_step = _weights(everything / "checkpoints" / f"step_{best_step:06d}")
    assert all(torch.equal(best_w[k], same_step[k]) for k in same_step)
    metrics = _lines(pruned / "metrics.jsonl")
    assert [m["eval_pass@1"] for m in metrics] == values



def test_resume_keeps_the_best_and_the_history(digit_task, tmp_path, monkeypatch):
    extra = ("train.steps=4", "train.keep_last=1")
    straight = loop.train(_cfg(digit_task, tmp_path / "a", *extra), progress=False)
    train_until_killed(loop, _cfg(digit_task, tmp_path / "b", *extra), monkeypatch, step=2)
    resumed = loop.train(_cfg(digit_task, tmp_path / "b", *extra), resume=True, progress=False)
    assert _lines(resumed / "validation.jsonl") == _lines(straight / "validation.jsonl")
    assert best_record(resumed) == best_record(straight)
    a, b = _weights(straight / "checkpoints" / "best"), _weights(resumed / "checkpoints" / "best")
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="chosen by 'eval_pass@1'"):
        loop.train(_cfg(digit_task, tmp_path / "b", "train.steps=5", "train.best_metric=eval_pass@2"), resume=True,
                   progress=False)


def test_kill_after_the_best_was_written_but_before_its_checkpoint(digit_task, tmp_path, monkeypatch):
    """The best of step 2 is on disk, its step checkpoint is not: the resumed run redoes step 2 (on the CPU,
    bit-identically) and ends with the same best and the same history as an uninterrupted run."""
    extra = ("train.steps=3", "train.keep_last=0")
    straight = loop.train(_cfg(digit_task, tmp_path / "a", *extra), progress=False)
    assert best_record(straight)["step"] == 2  # the situation this test is about
    train_until_killed(loop, _cfg(digit_task, tmp_path / "b", *extra), monkeypatch, step=2, after_save=False)
    assert best_record(tmp_path / "b")["step"] == 2 and not (tmp_path / "b" / "checkpoints" / "step_000002").exists()
    resumed = loop.train(_cfg(digit_task, tmp_path / "b", *extra), resume=True, progress=False)
    assert _lines(resumed / "validation.jsonl") == _lines(straight / "validation.jsonl")
    assert best_record(resumed) == best_record(straight)


def _greedy_accuracy(checkpoint, run) -> float:
    """Independent of the trainer's hook: HF ``generate`` greedy on the held-out prompts, graded one by one."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tandem_rl.data import encode_problems, load_problems, split_holdout
    from tandem_rl.rewards import grade

    cfg = load_config(run / "config.yaml")
    _, held = split_holdout(load_problems(cfg.data).problems, cfg.data.holdout, cfg.data.shuffle_seed)
    tok = AutoTokenizer.from_pretrained(checkpoint)
    model = AutoModelForCausalLM.from_pretrained(checkpoint).eval()
    enc = encode_problems(tok, held, cfg.data)
    right = 0
    for problem, ids in zip(enc.problems, enc.prompt_ids):
        out = model.generate(torch.tensor([ids]), max_new_tokens=cfg.rollout.max_new_tokens, do_sample=False,
                             pad_token_id=tok.pad_token_id)[0, len(ids):]
        right += grade(tok.decode(out, skip_special_tokens=True), problem.answer).reward
    return right / len(enc.problems)


def test_default_hook_logs_the_same_solo_accuracy_and_keeps_no_best(digit_task, tmp_path):
    model, _ = digit_task
    problems = tmp_path / "digits.jsonl"  # golds 0..9: greedy accuracy = the share of golds equal to its one digit
    problems.write_text("".join(json.dumps({"id": f"q{i}", "problem": "Pick a digit.", "answer": str(i % 10)}) + "\n"
                                for i in range(40)))
    run = loop.train(_cfg((model, problems), tmp_path / "d", "train.steps=2", "train.eval_samples=1",
                          "train.best_metric=", "train.eval_greedy=true", "data.holdout=20"), progress=False)
    hist = _lines(run / "validation.jsonl")
    assert [h["eval_solo_acc"] for h in hist] == [h["eval_pass@1"] for h in hist]
    independent = _greedy_accuracy(run / "checkpoints" / "step_000002", run)
    assert independent > 0  # else the comparison below could not tell a hook that always says 0
    assert hist[-1]["eval_solo_acc"] == pytest.approx(independent)
    assert not (run / "checkpoints" / "best").exists() and not any(h["best"] for h in hist)
    with pytest.raises(FileNotFoundError, match="keeps no best"):
        resolve_checkpoint(f"{run}@best")
