"""The TRL adapter against independent references: TRL's own GRPO code path and tandem-rl's trainer.

Every trainer here is a real ``trl.GRPOTrainer`` (TRL 1.16, CPU) on tiny models: a Llama senior and a Qwen3 junior
with a padded output layer (``tiny.tiny_pair``). The senior's ``generation_config`` gets a second, frequent EOS id
so that some rows end on EOS and others run to the length limit.

- the adapter's rollouts are those of tandem-rl's ``collect`` for the same prompt rows and seed (layout, EOS);
- (a) the mask TRL's loss applies (``completion_mask * tool_mask``) is the engine's authorship, token for token;
- (b) inside TRL's loss, junior-written positions get exactly zero gradient, senior ones do not;
- (c) one TRL update (``dapo`` = token-mean over senior tokens, one mini-batch, advantage eps 1e-4, SGD) moves
  every weight as one ``update_policy`` of tandem-rl does on the same rollouts and rewards (to 1e-5 of the largest
  step plus two float32 ulps of the weight);
- (d) ``schedule="solo"`` through the adapter gives TRL's own GRPO loss on the same completions;
- data-parallel row layout, the self-paired junior, and every refusal (TRL version, sharding, vLLM, sampling
  settings, vocabularies, a junior that is the trained model).
"""

import contextlib
import copy
import doctest
import os
from types import SimpleNamespace as NS

import numpy as np
import pytest
import torch

pytest.importorskip("trl", reason="the TRL adapter needs the [trl] extra")
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # rollout_func is experimental in TRL; the warning is known

from datasets import Dataset  # noqa: E402
from trl import GRPOConfig, GRPOTrainer  # noqa: E402

from tandem_rl.cogen.config import RolloutConfig  # noqa: E402
from tandem_rl.cogen.engine import CoGenerator  # noqa: E402
from tandem_rl.config import load_config  # noqa: E402
from tandem_rl.data.prompts import build_prompt_ids  # noqa: E402
from tandem_rl.grpo.advantages import group_advantages  # noqa: E402
from tandem_rl.integrations import trl as adapter  # noqa: E402
from tandem_rl.integrations import trl_checks  # noqa: E402
from tandem_rl.integrations.trl import tandem_rollout_func  # noqa: E402
from tandem_rl.train.build import TrainObjects  # noqa: E402
from tandem_rl.train.rollout import collect  # noqa: E402
from tandem_rl.train.update import update_policy  # noqa: E402
from tiny import soften, tiny_model, tiny_pair, tiny_tokenizer  # noqa: E402

G = 4             # num_generations = grpo.group_size
MAX_NEW = 12      # max_completion_length = rollout.max_new_tokens
TEMP = 1.0
SEED = 3
TEXTS = ["Tom has 12 apples and buys 7 more.", "Let x be the number."]
TOKEN_MIX = RolloutConfig(schedule="token", p=0.5, temperature=TEMP, max_new_tokens=MAX_NEW)  # dense author mix


@pytest.fixture(scope="module")
def world():
    """(tokenizer, initial senior, junior). The senior is softened further (varied solo samples, so rewards vary
    within groups) and its generation_config adds a second EOS id: a token that ends some rows but not all."""
    tok = tiny_tokenizer()
    senior, junior = tiny_pair(tok)
    soften(senior, 0.4)
    probe = CoGenerator(senior, junior, tok).generate([build_prompt_ids(tok, t, "") for t in TEXTS] * G,
                                                      TOKEN_MIX, seed=0)
    rows_with = {}
    for r in probe.response_ids:
        for t in set(r):
            rows_with[t] = rows_with.get(t, 0) + 1
    common = max((n, t) for t, n in rows_with.items() if n < len(probe))[1]
    senior.generation_config.eos_token_id = [tok.eos_token_id, common]
    return tok, senior, junior


def _rows():
    """One generation batch as TRL's RepeatSampler lays it out: each prompt G times in a row."""
    return [{"prompt": [{"role": "user", "content": t}]} for t in TEXTS for _ in range(G)]


def _trainer(tmp_path, model, tok, *, rollout_func=None, reward=None, loss_type="dapo", **extra):
    """A real GRPOTrainer: one generation batch = one mini-batch = one SGD step of lr 1, no clipping, fp32.

    SGD, so that a weight's change is its gradient: AdamW's first step is about lr * sign(gradient) and would hide
    a gradient that is off by a factor."""
    args = GRPOConfig(output_dir=str(tmp_path / "trl"), per_device_train_batch_size=G * len(TEXTS),
                      num_generations=G, gradient_accumulation_steps=1, max_completion_length=MAX_NEW,
                      temperature=TEMP, learning_rate=1.0, max_grad_norm=0.0, max_steps=1, use_cpu=True,
                      report_to="none", save_strategy="no", logging_steps=1, disable_tqdm=True, seed=SEED,
                      lr_scheduler_type="constant", gradient_checkpointing=False, bf16=False, loss_type=loss_type,
                      beta=0.0, **extra)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    model.train()  # as Trainer.train() leaves it: the adapter (like TRL) reads train vs eval mode from the model
    trainer = GRPOTrainer(model=model, reward_funcs=reward or _text_reward, args=args, processing_class=tok,
                          train_dataset=Dataset.from_list(_rows()[::G]), rollout_func=rollout_func,
                          optimizers=(opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)))
    trainer.current_gradient_accumulation_steps = 1  # set by Trainer.train(); read by _compute_loss
    return trainer


def _text_reward(completions, completion_ids, **kw):
    """Varies within groups and needs only what TRL's own path also has (no tandem columns)."""
    return [float(sum(ids) % 5) for ids in completion_ids]


def _padded(rows, fill=0):
    width = max(len(r) for r in rows)
    return torch.tensor([list(r) + [fill] * (width - len(r)) for r in rows])


class _Grader:
    """collect() needs a grader; the rollouts, not the rewards, are compared."""

    def grade(self, texts, golds, **kw):
        return [NS(reward=0.0) for _ in texts]


def test_rollouts_are_our_trainers(world, tmp_path):
    """Same prompt rows, same order, same seed: the adapter's rollouts are tandem-rl's collect() at that step."""
    tok, senior, junior = world
    # the paper's schedule; a redraw at least every 3 tokens, as few tiny-vocabulary tokens start a word
    rc = RolloutConfig(schedule="word", p=0.5, redraw_cap=3, temperature=TEMP, max_new_tokens=MAX_NEW)
    f = tandem_rollout_func(junior, rc)
    trainer = _trainer(tmp_path, copy.deepcopy(senior), tok, rollout_func=f)
    out = f([r["prompt"] for r in _rows()], trainer)

    cfg = load_config(None, ["model.senior=x", f"grpo.group_size={G}", f"train.seed={SEED}", "rollout.schedule=word",
                             "rollout.redraw_cap=3", f"rollout.max_new_tokens={MAX_NEW}",
                             f"rollout.temperature={TEMP}"])
    ours = collect(CoGenerator(senior, junior, tok), _Grader(), tok, [build_prompt_ids(tok, t, "") for t in TEXTS],
                   ["0"] * len(TEXTS), [0, 1], cfg, step=0, rollout_cfg=cfg.rollout, autocast=contextlib.nullcontext)
    ro = ours.rollouts
    assert sorted(CoGenerator(senior, junior, tok).eos_token_ids) == sorted(trainer.eos_token_ids)
    assert out["prompt_ids"] == ro.prompt_ids
    assert out["completion_ids"] == ro.response_ids
    assert out["env_mask"] == [a.tolist() for a in ro.author]
    assert out["tandem_finish_reason"] == ro.finish_reason
    for lp, ref, a in zip(out["logprobs"], ro.logprob, ro.author):
        lp = np.array(lp)
        assert np.array_equal(lp[a == 1], ref[a == 1]) and np.isnan(lp[a == 0]).all()
    # the comparison covers what it claims: both authors, and rows ending on EOS and on the length limit
    assert {"eos", "length"} <= set(ro.finish_reason)
    assert all(r[-1] in trainer.eos_token_ids for r, why in zip(ro.response_ids, ro.finish_reason) if why == "eos")
    assert any(0 < a.sum() < len(a) for a in ro.author)


def _scored(world, tmp_path, rollout=TOKEN_MIX):
    tok, senior, junior = world
    f = tandem_rollout_func(junior, rollout)
    trainer = _trainer(tmp_path, copy.deepcopy(senior), tok, rollout_func=f)
    return f, trainer, trainer._generate_and_score_completions(_rows())


def test_trl_loss_mask_is_authorship(world, tmp_path):
    """(a) TRL's loss mask, built by TRL's own code from what the adapter returned, is the senior's authorship."""
    f, trainer, out = _scored(world, tmp_path)
    ro = f.last_rollouts
    mask = out["completion_mask"] * out["tool_mask"]  # what GRPOTrainer._compute_loss multiplies the loss by
    author = _padded([a.tolist() for a in ro.author])
    assert torch.equal(out["completion_ids"], _padded(ro.response_ids, trainer._tokenizer.pad_token_id))
    assert torch.equal(mask.cpu(), author)
    assert int(out["num_items_in_batch"]) == sum(int(a.sum()) for a in ro.author)  # the dapo denominator
    assert 0 < int(mask.sum()) < int(out["completion_mask"].sum())  # both authors present


def test_junior_tokens_get_zero_gradient_inside_trl_loss(world, tmp_path):
    """(b) d(TRL loss)/d(log-prob) is exactly 0 at every junior position and non-zero at senior positions."""
    f, trainer, out = _scored(world, tmp_path)
    captured = []
    inner = trainer._get_per_token_logps_and_entropies

    def keep(*a, **k):
        logps, ent, aux = inner(*a, **k)
        logps.retain_grad()
        captured.append(logps)
        return logps, ent, aux

    trainer._get_per_token_logps_and_entropies = keep
    trainer._compute_loss(trainer.model, out).backward()
    grad = captured[0].grad
    author = _padded([a.tolist() for a in f.last_rollouts.author]).bool()
    junior = out["completion_mask"].bool() & ~author
    assert junior.any() and torch.all(grad[junior] == 0.0)
    moving = author & (out["advantages"] != 0)[:, None]
    assert moving.any() and torch.all(grad[moving] != 0.0)


def test_one_trl_update_equals_ours(world, tmp_path):
    """(c) One TRL step (dapo, one mini-batch, SGD lr 1, no clipping) = one update_policy on the same rollouts."""
    tok, senior, junior = world
    rewards = []

    def reward(completions, tandem_senior_fraction, **kw):  # tandem columns reach reward functions
        r = [round(s, 3) + len(c[0]["content"]) % 2 for c, s in zip(completions, tandem_senior_fraction)]
        rewards.extend(r)
        return r

    f = tandem_rollout_func(junior, TOKEN_MIX)
    model = copy.deepcopy(senior)
    ours = copy.deepcopy(senior)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainer = _trainer(tmp_path, model, tok, rollout_func=f, reward=reward)
    trainer.train()
    ro = f.last_rollouts
    assert len(rewards) == len(ro) == G * len(TEXTS)
    assert all(ro.prompt_ids[i] == ro.prompt_ids[i - i % G] for i in range(len(ro)))  # groups are consecutive rows

    cfg = load_config(None, ["model.senior=x", f"grpo.group_size={G}", f"train.prompts_per_step={len(TEXTS)}",
                             "train.mini_batches=1", "grpo.loss_agg=token-mean", "train.grad_clip=0",
                             "grpo.adv_eps=1e-4",  # TRL 1.16 divides by (std + 1e-4), a constant
                             f"rollout.temperature={TEMP}", f"rollout.max_new_tokens={MAX_NEW}"])
    adv, _ = group_advantages(rewards, G, eps=cfg.grpo.adv_eps)
    assert np.count_nonzero(adv) >= G
    ours.train()
    objs = TrainObjects(senior=ours, junior=None, reference=None, tokenizer=tok, device=torch.device("cpu"),
                        optimizer=torch.optim.SGD(ours.parameters(), lr=1.0))
    stats = update_policy(objs, ro, adv, cfg, autocast=contextlib.nullcontext, lr=1.0)
    assert stats.updates == 1
    # Tolerance: 1e-5 of the largest step, plus two float32 ulps of the weight (the rounding of w - step itself);
    # measured here: 3e-8 beyond the ulps, with steps up to 0.13. What differs is float32 round-off only: TRL's
    # chunked log-prob kernel, its position ids under left padding (0..L-1 over the padding; RoPE is
    # shift-invariant; ours count real tokens), other summation orders.
    steps = {n: before[n] - q.detach() for n, q in ours.named_parameters()}
    scale = max(float(d.abs().max()) for d in steps.values())
    assert scale > 1e-2
    eps = torch.finfo(torch.float32).eps
    for n, p in model.named_parameters():
        gap = (p.detach() - (before[n] - steps[n])).abs()
        assert torch.all(gap <= 1e-5 * scale + 2 * eps * before[n].abs()), (n, float(gap.max()), scale)


@pytest.mark.parametrize("loss_type", ["dapo", "grpo", "dr_grpo"])
def test_solo_through_adapter_is_trls_own_grpo(world, tmp_path, loss_type):
    """(d) schedule=solo via the adapter: TRL's loss equals that of TRL's own generation path on the same
    completions (its generation is replaced by the adapter's completions; everything else is TRL's)."""
    tok, senior, _ = world
    solo = RolloutConfig(schedule="solo", temperature=TEMP, max_new_tokens=MAX_NEW)
    f = tandem_rollout_func(None, solo)
    a = _trainer(tmp_path / "a", copy.deepcopy(senior), tok, rollout_func=f, loss_type=loss_type)
    out_a = a._generate_and_score_completions(_rows())
    loss_a = a._compute_loss(a.model, out_a)

    b = _trainer(tmp_path / "b", copy.deepcopy(senior), tok, loss_type=loss_type)
    seen = []

    def same_completions(prompt_ids, *rest, **kw):
        seen.append(prompt_ids)
        return [list(r) for r in f.last_rollouts.response_ids], None  # what TRL's transformers path returns

    b._generate_single_turn = same_completions
    out_b = b._generate_and_score_completions(_rows())
    loss_b = b._compute_loss(b.model, out_b)
    assert seen[0] == f.last_rollouts.prompt_ids  # the adapter tokenizes prompts as TRL does
    assert "tool_mask" not in out_b and bool(out_a["tool_mask"].bool().all())
    assert torch.equal(out_a["advantages"], out_b["advantages"]) and bool((out_a["advantages"] != 0).any())
    assert torch.allclose(loss_a, loss_b, rtol=1e-6, atol=0.0) and float(loss_a.detach()) != 0.0


def test_trains_with_trl_defaults(world, tmp_path):
    """trainer.train() with TRL's own defaults (bf16 autocast, gradient checkpointing, AdamW, dapo): the senior
    moves, and the tandem metrics reach TRL's logs (TRL's own length metric counts senior tokens only)."""
    tok, senior, junior = world
    model = copy.deepcopy(senior)
    before = [p.detach().clone() for p in model.parameters()]
    args = GRPOConfig(output_dir=str(tmp_path / "trl"), per_device_train_batch_size=G * len(TEXTS),
                      num_generations=G, max_completion_length=MAX_NEW, max_steps=2, use_cpu=True, report_to="none",
                      save_strategy="no", logging_steps=1, disable_tqdm=True, learning_rate=1e-2)
    trainer = GRPOTrainer(model=model, reward_funcs=_text_reward, args=args, processing_class=tok,
                          train_dataset=Dataset.from_list(_rows()[::G]), rollout_func=tandem_rollout_func(junior))
    trainer.train()
    assert any(not torch.equal(a, b.detach()) for a, b in zip(before, model.parameters()))
    logs = [x for x in trainer.state.log_history if "tandem/senior_fraction" in x]
    assert len(logs) == 2 and all(0 < x["tandem/senior_fraction"] < 1 for x in logs)
    assert all(x["completions/mean_length"] < x["tandem/response_length"] for x in logs)


class _View:
    """A trainer (or its accelerator) seen from another rank: only the named attributes differ."""

    def __init__(self, inner, **changed):
        self._inner = inner
        self.__dict__.update(changed)

    def __getattr__(self, name):
        return getattr(self._inner, name)


def test_data_parallel_rank_draws_what_one_process_draws(world, tmp_path):
    """Rank 1 of 2 holds rows [n, 2n) of the generation batch (TRL's slicing); with engine_batch_size n its
    rollouts are those one process draws for those rows (tandem-rl's seeding by global row)."""
    tok, senior, junior = world
    rows = [r["prompt"] for r in _rows()]
    n = len(rows) // 2
    one = tandem_rollout_func(junior, TOKEN_MIX, engine_batch_size=n)
    trainer = _trainer(tmp_path, copy.deepcopy(senior), tok, rollout_func=one)
    whole = one(rows, trainer)
    rank1 = tandem_rollout_func(junior, TOKEN_MIX, engine_batch_size=n)
    acc = _View(trainer.accelerator, process_index=1, num_processes=2)
    mine = rank1(rows[n:], _View(trainer, accelerator=acc))
    for key in ("prompt_ids", "completion_ids", "env_mask"):
        assert mine[key] == whole[key][n:]
    rank0 = tandem_rollout_func(junior, TOKEN_MIX, engine_batch_size=n)
    assert rank0(rows[:n], _View(trainer, accelerator=_View(trainer.accelerator, process_index=0,
                                                              num_processes=2)))["completion_ids"] == \
        whole["completion_ids"][:n]


def test_self_paired_junior_is_a_frozen_copy(world, tmp_path):
    """junior=None: a frozen copy of the senior at the first call, independent of the live senior afterwards
    (TRL patches the trained model's forward; a plain deep copy would keep calling the live weights)."""
    tok, senior, _ = world
    f = tandem_rollout_func(None, TOKEN_MIX)
    trainer = _trainer(tmp_path, copy.deepcopy(senior), tok, rollout_func=f)
    f([r["prompt"] for r in _rows()], trainer)
    junior, live = f.junior, trainer.model
    assert junior is not live and not any(p.requires_grad for p in junior.parameters())
    with torch.no_grad():
        for p in live.parameters():
            p.add_(0.5)
    ids = torch.tensor([build_prompt_ids(tok, TEXTS[0], "")])
    with torch.no_grad():
        got = junior(input_ids=ids).logits
        assert torch.allclose(got, senior(input_ids=ids).logits, atol=1e-5)
        assert not torch.allclose(got, live(input_ids=ids).logits, atol=1e-2)


def test_trl_version_is_pinned():
    assert trl_checks.check_trl_version("1.16.3") == "1.16.3"
    assert trl_checks.check_trl_version("1.16.0.post1") == "1.16.0.post1"
    for bad in ("1.15.2", "1.16.0rc1", "1.17.0", "1.17.0.dev0", "2.0.0", "not-a-version"):
        with pytest.raises(ImportError, match=r'trl>=1.16,<1.17.*pip install -e "\.\[trl\]"'):
            trl_checks.check_trl_version(bad)
    trl_checks.check_trl_version()  # the installed one is supported


def test_trl_extra_matches_the_pin():
    """pyproject's `trl` extra is the adapter's range, and the `test` extra (what CI installs) lies inside it."""
    tomllib = pytest.importorskip("tomllib")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "pyproject.toml"), "rb") as fh:
        extras = tomllib.load(fh)["project"]["optional-dependencies"]
    assert extras["trl"] == [trl_checks.TRL_SPEC]
    [pinned] = [r for r in extras["test"] if r.startswith("trl==")]
    trl_checks.check_trl_version(pinned.split("==", 1)[1])


def _fake_trainer(model, *, kind="NO", zero_stage=None, use_vllm=False, tok=None):
    plugin = NS(zero_stage=zero_stage) if zero_stage else None
    return NS(args=NS(use_vllm=use_vllm), tools=[], environment_factories=None,
              processing_class=tok or tiny_tokenizer(), model=model,
              accelerator=NS(distributed_type=f"DistributedType.{kind}", state=NS(deepspeed_plugin=plugin)))


def test_sharded_and_unsupported_setups_are_refused():
    model = tiny_model(seed=0)
    trl_checks.refuse_unsupported(_fake_trainer(model))  # single process / DDP
    trl_checks.refuse_unsupported(_fake_trainer(model, kind="DEEPSPEED", zero_stage=2))  # whole weights
    cases = [(dict(kind="FSDP"), r"sharded \(FSDP\)"),
             (dict(kind="DEEPSPEED", zero_stage=3), r"sharded \(DeepSpeed ZeRO-3\)"),
             (dict(kind="MEGATRON_LM"), "Megatron"),
             (dict(use_vllm=True), "use_vllm=False")]
    for kw, message in cases:
        with pytest.raises(ValueError, match=message):
            trl_checks.refuse_unsupported(_fake_trainer(model, **kw))
    next(model.parameters()).ds_id = 0  # what a ZeRO-3 partitioned parameter carries
    with pytest.raises(ValueError, match="partitioned parameters"):
        trl_checks.refuse_unsupported(_fake_trainer(model))


def test_bad_inputs_fail_clearly(world, tmp_path):
    tok, senior, junior = world
    rows = [r["prompt"] for r in _rows()]
    model = copy.deepcopy(senior)
    with pytest.raises(ValueError, match=r"rollout.temperature=0.6 vs GRPOConfig.temperature=1.0"):
        tandem_rollout_func(junior, RolloutConfig(temperature=0.6, max_new_tokens=MAX_NEW))(
            rows, _trainer(tmp_path, model, tok))
    with pytest.raises(ValueError, match="the junior is the model being trained"):
        f = tandem_rollout_func(model, TOKEN_MIX)
        f(rows, _trainer(tmp_path, model, tok, rollout_func=f))
    small = tiny_model(tok, seed=4, vocab_size=len(tok) - 10)  # cannot score the last 10 token ids
    with pytest.raises(ValueError, match="junior model has .* output logits but the tokenizer has"):
        f = tandem_rollout_func(small, TOKEN_MIX)
        f(rows, _trainer(tmp_path, copy.deepcopy(senior), tok, rollout_func=f))
    other = tiny_tokenizer()
    other.add_tokens(["<extra>"])
    with pytest.raises(ValueError, match="senior and junior tokenizers differ"):
        f = tandem_rollout_func(junior, TOKEN_MIX, junior_tokenizer=other)
        f(rows, _trainer(tmp_path, copy.deepcopy(senior), tok, rollout_func=f))
    with pytest.raises(ValueError, match="min_p"):
        adapter.rollout_for(NS(temperature=1.0, top_p=1.0, top_k=0, max_completion_length=8, min_p=0.1,
                               repetition_penalty=1.0, generation_kwargs=None))
    with pytest.raises(TypeError, match="RolloutConfig"):
        tandem_rollout_func(junior, {"schedule": "word"})


@pytest.mark.parametrize("module", [adapter, trl_checks])
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
