"""Evaluation protocols (Jiao et al. 2026, §5): decoding settings and which metrics to compute."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass
class EvalConfig:
    benchmarks: list[str] = field(default_factory=list, metadata={"help": (
        "Data sources to evaluate on (same forms as data.source); results are per benchmark plus a macro average.")})
    limit: Optional[int] = field(default=None, metadata={"help": (
        "At most this many problems per benchmark (after data.shuffle_seed's shuffle); null = all. data.limit, "
        "which is for training, does not apply to benchmarks.")})
    n_samples: int = field(default=8, metadata={"help": "Samples per problem; pass@k is reported for k = 1..n. Paper: 8."})
    temperature: float = field(default=0.7, metadata={"help": "Evaluation temperature. Paper: 0.7."})
    top_p: float = field(default=0.8, metadata={"help": "Evaluation top_p. Paper: 0.8."})
    top_k: int = field(default=20, metadata={"help": "Evaluation top_k. Paper: 20."})
    max_new_tokens: int = field(default=3000, metadata={"help": "Evaluation response budget. Paper: 3000."})
    handoff_schedules: list[str] = field(default_factory=lambda: ["paragraph"], metadata={"help": (
        "Engine schedules for handoff robustness (paper: paragraph = reasoning-step alternation).")})
    max_rounds: int = field(default=75, metadata={"help": (
        "Paragraph schedule: stop after this many rounds, a round = one senior turn + one junior turn (so at most "
        "2 x max_rounds turns). Paper / authors' code: 150 rounds (up to 300 turns; the paper recipe sets it). "
        "Default 75 = the 150-turn cap this field meant before it counted rounds.")})
    notation_regex: Optional[str] = field(default=None, metadata={"help": (
        "Regex whose presence in a response counts toward the notation rate (e.g. '<<|>>' for calculator jargon).")})
    bootstrap: int = field(default=1000, metadata={"help": (
        "Bootstrap resamples (over problems) for a single label's percentile intervals; seed groups and differences "
        "use t intervals that need no resampling.")})
    batch_size: int = field(default=64, metadata={"help": "Rows per engine call."})
    seed: int = field(default=0, metadata={"help": "Evaluation sampling seed (and the bootstrap's seed)."})
    report_k: int = field(default=4, metadata={"help": (
        "The k of pass@k shown in the comparison table (clamped to n_samples). Paper Table 2: pass@4.")})
    metrics: list[str] = field(default_factory=lambda: ["solo", "handoff", "legibility", "drift"], metadata={"help": (
        "What to compute: solo (pass@k of the senior alone; always on), handoff (pass@k under each handoff "
        "schedule), legibility (junior cross-entropy on the senior's solo text), drift (KL(senior || base) and "
        "KL(senior || junior) on the senior's solo text). Jiao et al. 2026, §5. Also: transfer (the junior "
        "finishes from growing prefixes of the senior's solo solutions; off by default; eval.transfer_*).")})
    transfer_fractions: list[float] = field(default_factory=lambda: [0.0, 0.25, 0.5, 0.75, 1.0], metadata={"help": (
        "Transfer curves (metric 'transfer'): the fractions f of the senior's reasoning handed to the junior; must "
        "increase from 0 to 1. f = 1 is the whole reasoning cut before the final \\boxed, so the junior still writes "
        "the answer (Roytburg et al. 2026, arXiv 2603.20508; docs/evaluation.md).")})
    transfer_units: list[str] = field(default_factory=lambda: ["tokens", "steps"], metadata={"help": (
        "How prefixes are measured: 'tokens' (f x reasoning tokens) and/or 'steps' (f x reasoning steps, a step "
        "ending at a blank line as in the paragraph schedule).")})
    transfer_limit: Optional[int] = field(default=None, metadata={"help": (
        "Transfer curves on the first this-many problems of each benchmark only (null = all): the curves cost "
        "about one junior generation per distinct prefix.")})
    transfer_samples: Optional[int] = field(default=None, metadata={"help": (
        "Transfer curves from the first this-many solo samples of each problem (null = all eval.n_samples).")})
    displacement: Optional[str] = field(default=None, metadata={"help": (
        "'GRPO_LABEL,TANDEM_LABEL': at positions of both seniors' solo texts where the GRPO senior's top token "
        "differs from the base's, the share where the tandem senior's top token equals the base's (needs a base). "
        "Paper: 87% of displaced tokens shift back (definition not published; ours is in docs/evaluation.md).")})
    seed_groups: dict[str, list[str]] = field(default_factory=dict, metadata={"help": (
        "Labels that are seeds of one arm, e.g. {grpo: [grpo_s0, grpo_s1]}: reported as the mean over seeds with "
        "a t interval over seeds and problems; two groups whose labels name the same seeds (_s<seed>, same order) "
        "are compared seed by seed (docs/evaluation.md \"Statistics\").")})
    pairs: Optional[list[str]] = field(default=None, metadata={"help": (
        "Paired differences to compute, e.g. ['tandem - grpo', 'grpo - initial'] (between labels or seed groups, "
        "in this direction); null = every pair of labels and of seed groups. The demo lists only arms of one "
        "setting and the initial model, never seed against seed.")})
    setting: Optional[str] = field(default=None, metadata={"help": (
        "A name for the setting this evaluation measures (e.g. 'paper': the junior is the frozen base; 'west': a "
        "weaker junior), written into every summary.json and comparison.json so that no number travels without "
        "it; the demo sets it per partner.")})
    step_checker: Optional[str] = field(default=None, metadata={"help": (
        "'module:function' mapping a response text to (n_steps, n_false_steps) for the faithfulness metrics; "
        "null = not computed (unless evaluate() receives a callable).")})
    score_token_budget: int = field(default=8192, metadata={"help": (
        "Teacher-forced scoring (legibility, drift, displacement): at most this many padded tokens per forward pass "
        "(full-vocabulary log-probs are held for every position of a batch).")})
    confidence: float = field(default=0.95, metadata={"help": (
        "Confidence level of every interval (percentile bootstrap of a label, t intervals of seed groups and "
        "differences).")})
