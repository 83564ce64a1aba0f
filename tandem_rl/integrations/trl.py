"""Tandem rollouts inside Hugging Face TRL's ``GRPOTrainer``: the same trainer, one more argument.

    from trl import GRPOConfig, GRPOTrainer
    from tandem_rl.integrations.trl import tandem_rollout_func

    trainer = GRPOTrainer(model=model, reward_funcs=[correct], args=GRPOConfig(...), train_dataset=data,
                          rollout_func=tandem_rollout_func(junior))       # the one-argument change
    trainer.train()

TRL 1.16 calls ``rollout_func(prompts, trainer)`` once per generation batch (``GRPOTrainer._generate``) with this
process's prompts, each already repeated ``num_generations`` times in a row by TRL's ``RepeatSampler``, and wants
one completion per prompt row. For each call the adapter

1. tokenizes the prompts as TRL's own generation does (the chat template with the generation prompt for
   conversational rows, ``processing_class(text=...)`` for plain strings);
2. co-writes one response per row with :class:`~tandem_rl.cogen.engine.CoGenerator` from the trainer's *live*
   senior (``trl.models.unwrap_model_for_generation``: the very module the optimizer updates, never a copy, so
   every rollout is on-policy) and the frozen junior, with the seeds tandem-rl's trainer uses at step
   ``trainer.state.global_step`` (``train/rollout.py``, ``_generate``): the same prompt rows in the same order and the same seed
   give the rollouts our trainer would produce;
3. returns what TRL expects, one list per row:

   ===========================  =====================================================================================
   key                          value
   ===========================  =====================================================================================
   ``prompt_ids``               the prompt token ids
   ``completion_ids``           the co-written response; a final EOS is kept, as TRL's own generation keeps it
   ``logprobs``                 the senior's sampling log-prob of each of its own tokens; ``nan`` on junior tokens
                                (the senior did not sample them; TRL 1.16 reads nan as "no correction" wherever it
                                uses sampling log-probs: vLLM importance sampling, the off-policy mask)
   ``env_mask``                 1 = the senior wrote the token (trained), 0 = the junior (context only). TRL renames
                                it ``tool_mask``; its loss mask is ``completion_mask * tool_mask``
   ``tandem_author``            the same 0/1 list, for reward functions (every extra key reaches them as a keyword)
   ``tandem_senior_fraction``   share of the row's tokens written by the senior
   ``tandem_finish_reason``     ``"eos"``, ``"stop"`` or ``"length"``
   ===========================  =====================================================================================

Worked example (two prompt rows; S = senior, J = junior; 2 = EOS)::

    completion_ids = [[17, 42, 9, 2], [5, 2]]
    author         = [[ S,  J, J, S], [J, S]]
    env_mask       = [[ 1,  0, 0, 1], [0, 1]]
    logprobs       = [[-0.3, nan, nan, -0.1], [nan, -0.7]]

TRL decodes the whole completion (both authors) for the reward, attends to every token, and its loss and its
token-mean denominator (``loss_type="dapo"``: ``num_items_in_batch`` = the ``env_mask`` tokens of the whole
generation batch, all ranks) count senior tokens only: junior tokens are context, exactly as in tandem-rl's trainer.
What TRL's hook lacks, and how each gap is handled: docs/integrations.md.
"""

from __future__ import annotations

import copy
import math
import types
from typing import Optional

import numpy as np

from tandem_rl.cogen.config import RolloutConfig
from tandem_rl.cogen.rollouts import SENIOR, Rollouts
from tandem_rl.integrations.trl_checks import check_junior, check_trl_version, refuse_unsupported

EVAL_SALT = 1 << 40        # generations in evaluation mode draw from their own seed streams
REPEAT_SALT = 10_000_000   # a second generation at one optimizer step (steps_per_generation < gradient accumulation)


def rollout_for(args, rollout: Optional[RolloutConfig] = None) -> RolloutConfig:
    """The engine's settings for a ``GRPOConfig``: the senior samples with TRL's settings, in one place.

    ``rollout=None``: the paper's schedule (``word``, p = 0.5, redraw cap 32) with ``GRPOConfig``'s temperature,
    top_p, top_k and ``max_completion_length``. A given ``RolloutConfig`` must agree with those four (TRL's loss
    divides the logits by ``GRPOConfig.temperature``, and ``dr_grpo`` normalises by ``max_completion_length``);
    any disagreement is a ``ValueError`` naming both values.

    >>> from types import SimpleNamespace as NS
    >>> args = NS(temperature=0.6, top_p=1.0, top_k=0, max_completion_length=64, min_p=None,
    ...           repetition_penalty=1.0, generation_kwargs=None)
    >>> rc = rollout_for(args)
    >>> rc.schedule, rc.p, rc.temperature, rc.max_new_tokens
    ('word', 0.5, 0.6, 64)
    >>> rollout_for(args, RolloutConfig(temperature=1.0, max_new_tokens=64))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: the RolloutConfig disagrees with the GRPOConfig ...: rollout.temperature=1.0 vs ...temperature=0.6
    """
    if args.max_completion_length is None:
        raise ValueError("GRPOConfig.max_completion_length is None: the tandem rollout_func needs a response budget")
    unsupported = [f"{name}={getattr(args, name)!r}" for name, off in
                   (("min_p", None), ("repetition_penalty", 1.0), ("generation_kwargs", None))
                   if getattr(args, name, off) not in (off, {})]
    if unsupported:
        raise ValueError(f"the tandem engine samples with temperature / top_p / top_k only; unset GRPOConfig "
                         f"{', '.join(unsupported)}")
    wanted = {"temperature": ("temperature", args.temperature), "top_p": ("top_p", args.top_p),
              "top_k": ("top_k", args.top_k or 0),
              "max_new_tokens": ("max_completion_length", args.max_completion_length)}
    if rollout is None:
        return RolloutConfig(schedule="word", p=0.5, **{k: v for k, (_, v) in wanted.items()})
    diffs = [f"rollout.{k}={getattr(rollout, k)!r} vs GRPOConfig.{name}={v!r}"
             for k, (name, v) in wanted.items() if getattr(rollout, k) != v]
    if diffs:
        raise ValueError("the RolloutConfig disagrees with the GRPOConfig (the senior's sampling is set once, in "
                         "the GRPOConfig; or pass rollout=None): " + "; ".join(diffs))
    return rollout


def prompt_token_ids(tokenizer, prompts: list, chat_template_kwargs: Optional[dict] = None) -> list[list[int]]:
    """Token ids of TRL prompts, tokenized as ``GRPOTrainer._tokenize_prompts`` does in TRL 1.16 (text only).

    Conversational rows (lists of ``{"role", "content"}`` messages) get the chat template with the generation
    prompt; plain strings go through ``tokenizer(text=...)`` (special tokens added, as TRL adds them).
    """
    from trl.data_utils import is_conversational

    if not prompts:
        return []
    if is_conversational({"prompt": prompts[0]}):
        out = tokenizer.apply_chat_template(conversation=prompts, add_generation_prompt=True, tokenize=True,
                                            return_dict=True, **(chat_template_kwargs or {}))
        return [list(map(int, ids)) for ids in out["input_ids"]]
    return [list(map(int, ids)) for ids in tokenizer(text=list(prompts))["input_ids"]]


def trl_columns(rollouts: Rollouts) -> dict:
    """A ``Rollouts`` as the dict TRL's ``rollout_func`` returns (see the module docstring).

    >>> ro = Rollouts([[7], [8]], [[17, 42, 9, 2], [5, 2]],
    ...               [np.array([1, 0, 0, 1], np.uint8), np.array([0, 1], np.uint8)],
    ...               [np.array([-0.3, -1.0, -2.0, -0.1], np.float32), np.array([-4.0, -0.7], np.float32)],
    ...               [np.full(4, np.nan, np.float32), np.full(2, np.nan, np.float32)], ["eos", "eos"])
    >>> out = trl_columns(ro)
    >>> out["env_mask"], [[round(x, 2) for x in row] for row in out["logprobs"]]
    ([[1, 0, 0, 1], [0, 1]], [[-0.3, nan, nan, -0.1], [nan, -0.7]])
    >>> out["tandem_senior_fraction"], out["tandem_finish_reason"]
    ([0.5, 0.5], ['eos', 'eos'])
    """
    author = [[int(a) for a in row] for row in rollouts.author]
    logprobs = [[float(lp) if a == SENIOR else math.nan for lp, a in zip(lps, row)]
                for lps, row in zip(rollouts.logprob, author)]
    return {
        "prompt_ids": [list(map(int, p)) for p in rollouts.prompt_ids],
        "completion_ids": [list(map(int, r)) for r in rollouts.response_ids],
        "logprobs": logprobs,
        "env_mask": author,
        "tandem_author": [list(row) for row in author],
        "tandem_senior_fraction": [sum(row) / len(row) if row else 0.0 for row in author],
        "tandem_finish_reason": list(rollouts.finish_reason),
    }


def _without_trl_head(model):
    """``model`` with TRL's fused-LM-head patch removed from every submodule (in place).

    TRL replaces ``forward`` on the trained model's instance by a wrapper that calls the *original module's*
    bound forward; a deep copy keeps that wrapper, so a copied junior would silently run the live senior. Dropping
    the instance attribute restores the class's own forward, which is all generation needs."""
    for m in model.modules():
        fwd = vars(m).get("forward")
        if isinstance(fwd, types.MethodType) and "fused_lm_head" in fwd.__func__.__code__.co_varnames:
            del m.forward
    return model


class TandemRolloutFunc:
    """The ``rollout_func`` that :func:`tandem_rollout_func` builds; TRL calls it as ``f(prompts, trainer)``.

    After each call ``last_rollouts`` holds the engine's ``Rollouts`` (tokens, authors, log-probs) of this process.
    """

    def __init__(self, junior=None, rollout: Optional[RolloutConfig] = None, *, seed: Optional[int] = None,
                 engine_batch_size: int = 0, junior_tokenizer=None, junior_device: Optional[str] = "senior",
                 decode: str = "dynamic"):
        check_trl_version()
        if rollout is not None and not isinstance(rollout, RolloutConfig):
            raise TypeError(f"rollout must be a tandem_rl RolloutConfig or None, got {type(rollout).__name__}")
        if engine_batch_size < 0:
            raise ValueError(f"engine_batch_size must be >= 0 (0 = all rows in one engine call), got "
                             f"{engine_batch_size}")
        self.junior, self.rollout, self.seed = junior, rollout, seed
        self.engine_batch_size, self.junior_tokenizer = int(engine_batch_size), junior_tokenizer
        self.junior_device, self.decode = junior_device, decode
        self.last_rollouts: Optional[Rollouts] = None
        self._generator = None
        self._calls: dict[tuple[str, int], int] = {}  # (mode, optimizer step) -> generations so far

    def __call__(self, prompts: list, trainer) -> dict:
        from trl.models import unwrap_model_for_generation

        refuse_unsupported(trainer)  # cheap, and the setup may change between calls (evaluation, a new accelerator)
        args = trainer.args
        with unwrap_model_for_generation(trainer.model_wrapped, trainer.accelerator, gather_deepspeed3_params=False,
                                         gradient_checkpointing_kwargs=args.gradient_checkpointing_kwargs) as senior:
            rc = rollout_for(args, self.rollout)
            generator = self._engine(senior, trainer.processing_class, rc)
            ids = prompt_token_ids(trainer.processing_class, prompts, getattr(trainer, "chat_template_kwargs", None))
            rollouts = self._generate(generator, ids, rc, trainer)
        self.last_rollouts = rollouts
        _log_metrics(trainer, rollouts)
        return trl_columns(rollouts)

    def _engine(self, senior, tokenizer, rc: RolloutConfig):
        """The CoGenerator, built once per live senior (the word-start tables cost ~0.7 s for Qwen's vocabulary)."""
        from tandem_rl.cogen.engine import CoGenerator
        from tandem_rl.models import freeze

        if self._generator is not None and self._generator.senior is senior:
            return self._generator
        junior = None
        if rc.schedule != "solo":
            if self.junior is None:
                # self-paired, as model.junior: null: a frozen copy of the senior before its first update
                self.junior = _without_trl_head(copy.deepcopy(senior))
            check_junior(self.junior, senior)
            junior = freeze(self.junior)
            if self.junior_device == "senior":
                junior.to(next(senior.parameters()).device)
            elif self.junior_device is not None:
                junior.to(self.junior_device)
        self._generator = CoGenerator(senior, junior, tokenizer, junior_tokenizer=self.junior_tokenizer,
                                      decode=self.decode)
        return self._generator

    def _generate(self, generator, prompt_ids: list[list[int]], rc: RolloutConfig, trainer) -> Rollouts:
        """One engine call per ``engine_batch_size`` rows, seeded exactly as tandem-rl's trainer seeds its step."""
        import dataclasses

        from tandem_rl.train.rollout import _generate

        mode = "train" if trainer.model.training else "eval"
        step = int(trainer.state.global_step)
        k = self._calls.get((mode, step), 0)
        self._calls[(mode, step)] = k + 1
        salt0 = (0 if mode == "train" else EVAL_SALT) + k * REPEAT_SALT
        if rc.p_end is not None:  # as loop.annealed_p, over TRL's max_steps
            rc = dataclasses.replace(rc, p=rc.p + (rc.p_end - rc.p) * step / max(trainer.state.max_steps - 1, 1))
        acc = trainer.accelerator
        # data parallel: TRL gives rank r the rows [r*n, (r+1)*n) of the generation batch; salting by the global
        # row makes rank r draw what one process would draw for those rows (when engine_batch_size divides n)
        rows = [acc.process_index * len(prompt_ids) + j for j in range(len(prompt_ids))] \
            if acc.num_processes > 1 else None
        seed = int(trainer.args.seed) if self.seed is None else self.seed  # = tandem-rl's train.seed
        return _generate(generator, prompt_ids, rc, seed, step, salt0, self.engine_batch_size, acc.autocast, False,
                         per_group=1, group_pos=rows)


def _log_metrics(trainer, rollouts: Rollouts) -> None:
    """Tandem figures in TRL's logs. TRL's ``completions/mean_length`` counts only ``env_mask`` tokens (senior
    tokens here), so the whole response length is logged as well."""
    log = getattr(trainer, "_log_metric", None)  # what TRL 1.16 gives reward functions as `log_metric`
    if log is None or not len(rollouts):
        return
    log("tandem/senior_fraction", float(rollouts.senior_fraction()))
    log("tandem/response_length", float(np.mean([len(r) for r in rollouts.response_ids])))
    log("tandem/author_changes", float(np.mean(rollouts.author_changes())))


def tandem_rollout_func(junior=None, rollout: Optional[RolloutConfig] = None, *, seed: Optional[int] = None,
                        engine_batch_size: int = 0, junior_tokenizer=None, junior_device: Optional[str] = "senior",
                        decode: str = "dynamic") -> TandemRolloutFunc:
    """Build a TRL ``rollout_func`` that co-writes every rollout with the trainer's live senior and ``junior``.

    Args:
        junior: the frozen junior (any HF causal LM sharing the senior's tokenizer; it is frozen here). ``None``:
            a frozen copy of the senior taken at the first call, before any update (as ``model.junior: null``);
            when resuming a TRL run, pass the initial weights explicitly instead.
        rollout: a ``RolloutConfig`` for any schedule (``solo`` = vanilla GRPO, ``word`` = the paper's tandem,
            ``token``, ``paragraph``, ``chunk``, ``junior``), p, the junior's own sampling settings, stop ids,
            ``p_end`` (annealed over TRL's ``max_steps``). Its temperature / top_p / top_k / max_new_tokens must
            equal ``GRPOConfig``'s; ``None`` = ``word`` at p = 0.5 with ``GRPOConfig``'s sampling settings.
        seed: base seed of the rollouts; ``None`` = ``GRPOConfig.seed``.
        engine_batch_size: rows per engine call (memory knob, = tandem-rl's ``train.generation_batch_size``;
            0 = all of this process's rows in one call).
        junior_tokenizer: the junior's own tokenizer, checked to map every id to the same string as the trainer's.
        junior_device: ``"senior"`` (default) moves the junior to the senior's device at the first call; a device
            string puts it there; ``None`` leaves it where it is.
        decode: the engine's ``decode`` mode (``dynamic``, ``static``, ``compiled``; docs/engine.md).

    Raises ``ImportError`` outside the supported TRL range, and ``ValueError`` at the first call for a setup it
    does not support (``trl_checks.py``: vLLM, tools, sharded seniors, mismatched vocabularies, a junior that is
    the trained model, sampling settings that disagree with the ``GRPOConfig``).

    >>> f = tandem_rollout_func(junior=None)   # self-paired junior, the paper's word schedule
    >>> type(f).__name__, f.rollout, f.engine_batch_size
    ('TandemRolloutFunc', None, 0)
    """
    return TandemRolloutFunc(junior, rollout, seed=seed, engine_batch_size=engine_batch_size,
                             junior_tokenizer=junior_tokenizer, junior_device=junior_device, decode=decode)
