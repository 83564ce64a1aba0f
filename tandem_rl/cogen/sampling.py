"""Temperature / top-k / top-p sampling with per-row settings, on the logits' device, and the log-probs it needs.

Per-row settings let one call sample a batch in which some rows are written by the senior and others by the junior,
each with its own settings. The order is the usual one: divide by temperature, keep the ``top_k`` largest, keep the
smallest set of tokens whose probability reaches ``top_p`` (the first token always stays), renormalise, draw.
``temperature == 0`` means greedy: the argmax of the raw logits, drawn with probability 1 (log-prob 0).

Worked example (one row, temperature 1, top_k 2)::

    logits = [[2.0, 1.0, 0.0]]              # softmax -> [0.665, 0.245, 0.090]
    after top_k=2: [[2.0, 1.0, -inf]]       # renormalised -> [0.731, 0.269, 0]
    draw -> token 0 with log-prob log(0.731) = -0.313, or token 1 with log-prob -1.313

Draws use the Gumbel-max trick with exponential noise from a seeded ``torch.Generator`` (``argmax(p / E)``,
``E ~ Exp(1)``), which is an exact draw from ``p`` and needs no host sync.

For the engine: ``AuthorSampler`` picks each row's settings from its author (senior or junior); ``BatchDraws`` holds
the token-noise and schedule-coin generators of one ``generate`` call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

import torch

Param = Union[float, int, torch.Tensor]
COIN_SALT = 0x5EED_C014  # the coin generator's seed is seed ^ salt: a separate stream from the token draws


@dataclass(frozen=True)
class SamplingParams:
    """One model's sampling settings. ``temperature`` 0 = greedy; ``top_p`` 1.0 and ``top_k`` 0 = off."""

    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0

    def __post_init__(self):
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0 (0 = off), got {self.top_k}")


def _col(x: Param, like: torch.Tensor) -> torch.Tensor | float:
    """A per-row tensor as a [B, 1] column; a Python number unchanged."""
    return x.to(like.device).unsqueeze(-1) if isinstance(x, torch.Tensor) else x


def truncate(logits: torch.Tensor, top_k: Param, top_p: Param) -> torch.Tensor:
    """Set logits outside the per-row top-k / top-p sets to -inf. ``logits`` [B, V] already temperature-scaled.

    >>> truncate(torch.tensor([[2.0, 1.0, 0.0]]), top_k=0, top_p=0.7)   # 0.665 < 0.7, so token 1 stays too
    tensor([[2., 1., -inf]])
    """
    use_k = isinstance(top_k, torch.Tensor) or top_k > 0
    use_p = isinstance(top_p, torch.Tensor) or top_p < 1.0
    if not (use_k or use_p):
        return logits
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    ranks = torch.arange(logits.shape[-1], device=logits.device)
    if use_k:
        k = _col(top_k, logits)
        k = torch.where(torch.as_tensor(k, device=logits.device) > 0, k, logits.shape[-1])
        sorted_logits = sorted_logits.masked_fill(ranks >= k, float("-inf"))
    if use_p:
        probs = sorted_logits.softmax(dim=-1)
        mass_before = probs.cumsum(dim=-1) - probs  # probability of the strictly better tokens
        p = _col(top_p, logits)
        # Rows with top_p = 1 stay untruncated (float cumsums can exceed 1 before the last token).
        cut = (mass_before >= p) & (ranks > 0) & (torch.as_tensor(p, device=logits.device) < 1.0)
        sorted_logits = sorted_logits.masked_fill(cut, float("-inf"))
    return torch.empty_like(logits).scatter_(-1, order, sorted_logits)


def sample(logits: torch.Tensor, temperature: Param, top_k: Param, top_p: Param,
           generator: Optional[torch.Generator] = None, noise: Optional[torch.Tensor] = None,
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw one token per row. Returns ``(tokens [B] long, logprob [B] float32)``.

    ``logprob`` is the log-probability of the drawn token under the exact (truncated, renormalised) distribution
    it was drawn from; 0 for greedy rows. Settings are Python numbers or per-row tensors [B]. ``noise`` [B, V]
    (Exp(1) draws, see ``exponential_noise``) may be given instead of ``generator``.
    """
    logits = logits.float()
    greedy_all = not isinstance(temperature, torch.Tensor) and temperature == 0
    if greedy_all:
        tok = logits.argmax(dim=-1)
        return tok, torch.zeros(tok.shape, dtype=torch.float32, device=logits.device)
    if isinstance(temperature, torch.Tensor):
        t = temperature.to(logits.device).float()
        greedy = t == 0
        scaled = logits / torch.where(greedy, 1.0, t).unsqueeze(-1)
    else:
        greedy, scaled = None, logits / temperature
    logp = torch.log_softmax(truncate(scaled, top_k, top_p), dim=-1)
    if noise is None:
        noise = exponential_noise(logp.shape, logp.device, generator)
    tok = (logp - noise.log()).argmax(dim=-1)
    lp = logp.gather(-1, tok.unsqueeze(-1)).squeeze(-1)
    if greedy is not None:
        tok = torch.where(greedy, logits.argmax(dim=-1), tok)
        lp = torch.where(greedy, 0.0, lp)
    return tok, lp


def exponential_noise(shape, device, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Exp(1) draws for the Gumbel-max trick, floored away from 0 so that ``log`` stays finite."""
    return torch.empty(shape, device=device).exponential_(generator=generator).clamp_min_(1e-20)


def raw_logprob(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Log-prob of ``tokens`` under ``softmax(logits)`` (temperature 1, no truncation): always finite."""
    logits = logits.float()
    return logits.gather(-1, tokens.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)


def _or(x, default):
    return default if x is None else x


@dataclass
class AuthorSampler:
    """The authors' sampling settings: numbers when both sample alike, else [B] tensors chosen per row."""

    senior: SamplingParams
    junior: SamplingParams
    mixed: bool    # both write and their settings differ
    sampled: bool  # some author samples (temperature > 0): the draws need noise

    @classmethod
    def of(cls, rc, schedule) -> "AuthorSampler":
        """From a ``RolloutConfig`` (the junior's settings default to the senior's) and its ``Schedule``."""
        sp = SamplingParams(rc.temperature, rc.top_p, rc.top_k)
        jp = SamplingParams(_or(rc.junior_temperature, sp.temperature), _or(rc.junior_top_p, sp.top_p),
                            _or(rc.junior_top_k, sp.top_k))
        mixed = schedule.cowrites and sp != jp
        if not schedule.senior_runs:  # the junior writes every token, with its own settings
            sp = jp
        return cls(sp, jp, mixed, sp.temperature > 0 or (mixed and jp.temperature > 0))

    def draw(self, logits: torch.Tensor, senior_writes: torch.Tensor, noise) -> tuple[torch.Tensor, torch.Tensor]:
        """``sample`` each row with its author's settings: (tokens, log-probs)."""
        sp, jp = self.senior, self.junior
        if not self.mixed:
            return sample(logits, sp.temperature, sp.top_k, sp.top_p, noise=noise)
        temp = torch.where(senior_writes, sp.temperature, jp.temperature)
        top_p = torch.where(senior_writes, sp.top_p, jp.top_p)
        top_k = torch.where(senior_writes, sp.top_k, jp.top_k)
        return sample(logits, temp, top_k, top_p, noise=noise)


class BatchDraws:
    """Token noise and schedule coins, from two generators. Both are drawn for the full batch every step and
    indexed by the active rows, so a row's draws never depend on which other rows have finished (dropping
    finished rows leaves every result unchanged)."""

    def __init__(self, seed: int, batch: int, vocab: int, device):
        self.batch, self.vocab, self.device = batch, vocab, device
        self.tokens = torch.Generator(device=device).manual_seed(seed)
        self.coin = torch.Generator(device=device).manual_seed(seed ^ COIN_SALT)

    def noise(self, rows) -> torch.Tensor:
        return exponential_noise((self.batch, self.vocab), self.device, self.tokens)[rows]

    def coins(self, rows) -> torch.Tensor:
        return torch.rand(self.batch, generator=self.coin, device=self.device)[rows]
