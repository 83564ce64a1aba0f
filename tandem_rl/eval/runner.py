"""``evaluate``: sample, grade and score one or more senior checkpoints on one or more benchmarks.

For each senior (label -> checkpoint), in this order:

1. solo: every problem x ``eval.n_samples`` rows through the engine (``schedule="solo"``), in engine batches of
   ``eval.batch_size`` rows, graded with the reward chain -> pass@k;
2. handoff: the same rows under each of ``eval.handoff_schedules`` with the junior (paper: ``paragraph``, the
   reasoning-step schedule, junior = frozen base, at most ``eval.max_rounds`` rounds of two turns) -> handoff pass@k;
3. teacher-forced scoring of the solo responses: the junior's CE (legibility, per token and per byte of text) and
   KL(senior || base), KL(senior || junior) (drift; not for a junior with its own tokenizer, which reads the text in
   its own tokens: ``pairing.co_generator`` picks the engine, docs/engine.md);
4. notation rate and, with a step checker, faithfulness and the error anatomy of every failed sample (its first
   failure and, under a handoff schedule, who wrote it: ``anatomy.py``);
5. with ``transfer`` in ``eval.metrics``: transfer curves, the junior finishing from growing prefixes of the solo
   responses (``transfer.py``) -> ``<label>/transfer.jsonl``;

then writes ``<output_dir>/<label>/samples.jsonl`` + ``summary.json`` (with ``cost``: per protocol, the tokens
each model wrote and the time and parameters x tokens of its forward passes, ``Rollouts.cost``). After all seniors: paired comparisons,
seed groups and (with ``eval.displacement``) token displacement go to ``<output_dir>/comparison.json``.

    summary = evaluate(cfg, {"grpo": "runs/grpo", "tandem": "runs/tandem"}, junior="world:junior",
                       base="world:senior", output_dir="evals/demo")
    summary["labels"]["tandem"]["metrics"]["solo_pass@k"]["macro"]["value"]   # [pass@1, ..., pass@n]

A run folder (with ``checkpoints/latest.txt``) stands for its newest checkpoint; ``RUN@best`` for the checkpoint kept
by validation (``train.best_metric``), ``RUN@step_000120`` for one step's. Every sample gets the same seed
under every senior (common random numbers), which tightens paired comparisons.
"""

from __future__ import annotations

import dataclasses
import gc
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from tqdm.auto import tqdm

from tandem_rl.cogen.char_authorship import response_texts
from tandem_rl.cogen.crosstok import junior_prompt
from tandem_rl.cogen.pairing import co_generator
from tandem_rl.cogen.rollouts import Rollouts
from tandem_rl.cogen.schedules import SCHEDULES
from tandem_rl.cogen.token_bytes import TokenBytes
from tandem_rl.config import save_config
from tandem_rl.data import encode_problems, load_problems
from tandem_rl.eval.anatomy import anatomy, char_authors, supports_anatomy
from tandem_rl.eval.displacement import displacement_counts
from tandem_rl.eval.records import (COMPARISON_FILE, DISPLACEMENT_FILE, SAMPLES_FILE, SUMMARY_FILE, TRANSFER_FILE,
                                    DisplacementRecord, SampleRecord, TransferRecord, read_jsonl, write_json,
                                    write_jsonl)
from tandem_rl.eval.summary import CORRECT, compare, displacement_metric, label_metrics, summarize_metrics
from tandem_rl.eval.teacher_forcing import score_texts
from tandem_rl.eval.text_checks import StepChecker, faithfulness, load_step_checker, notation_flags, step_counts
from tandem_rl.eval.transfer import UNITS, check_fractions, label_summary, run_transfer, transfer_metrics
from tandem_rl.models import freeze, load_junior_tokenizer, load_model, load_tokenizer
from tandem_rl.rewards import GraderPool
from tandem_rl.train.checkpoint import available, latest_marker, resolve_named, split_named


@dataclasses.dataclass
class Row:
    """One (problem, sample) row of a benchmark."""

    benchmark: str
    problem_id: str
    sample: int
    prompt_ids: list[int]
    gold: str


def resolve_checkpoint(path: str) -> str:
    """A run folder -> its newest complete checkpoint (``checkpoints/latest.txt``); ``RUN@best`` -> the run's kept
    best (``checkpoints/best``), ``RUN@step_000120`` -> that step's checkpoint, ``RUN@latest`` -> the newest (an
    error names what the run holds when one is missing); anything else unchanged."""
    run, name = split_named(path)
    if name is not None:
        return str(resolve_named(run, name))
    latest = latest_marker(path)
    if latest.is_file():
        name = latest.read_text().strip()
        ckpt = latest.parent / name
        if not ckpt.is_dir():
            raise FileNotFoundError(f"{latest} names {name!r} but {ckpt} is not a folder")
        return str(ckpt)
    run = Path(path)
    if ((run / "checkpoints").is_dir() or (run / "config.yaml").is_file()) and not (run / "config.json").exists():
        have = ", ".join(available(path)) or "none"  # e.g. train.save_final=false, or only checkpoints/best
        raise FileNotFoundError(f"{path} is a training run without checkpoints/latest.txt (it has: {have}); "
                                f"name one: {path}@best or {path}@step_NNNNNN")
    return path


def benchmark_name(source: str) -> str:
    """'data/aime24.jsonl' -> 'aime24'; 'gym:chain_sum' -> 'gym-chain_sum'; 'aime' -> 'aime';
    'olympiadbench:/x/OE_TO_maths_en_COMP.json' -> 'olympiadbench'."""
    if source.startswith("olympiadbench:"):
        return "olympiadbench"
    p = Path(source)
    name = p.stem if p.suffix in (".jsonl", ".json", ".parquet", ".csv") else (p.name or source)
    return name.replace(":", "-")


def load_benchmarks(cfg) -> tuple[dict[str, list], dict[str, int]]:
    """benchmark name -> problems, and skipped-row counts, from ``cfg.eval.benchmarks`` via the data module."""

    if not cfg.eval.benchmarks:
        raise ValueError("eval.benchmarks is empty: name at least one data source (e.g. eval.benchmarks=[aime])")
    out, skipped = {}, {}
    for source in cfg.eval.benchmarks:
        name = benchmark_name(source)
        if name in out:
            raise ValueError(f"eval.benchmarks: two sources share the name {name!r}; rename one file")
        ps = load_problems(dataclasses.replace(cfg.data, source=source, holdout=0, limit=cfg.eval.limit))
        seen = set()
        for p in ps.problems:
            if p.id in seen:
                raise ValueError(f"benchmark {source!r}: problem id {p.id!r} appears twice")
            seen.add(p.id)
        out[name], skipped[name] = ps.problems, len(ps.skipped)
    return out, skipped


def build_rows(cfg, benchmarks: dict[str, list], tokenizer, skipped: dict[str, int]) -> list[Row]:
    """Every (problem, sample) row, problem-major; prompts too long for ``data.max_prompt_tokens`` are skipped and
    added to ``skipped``."""

    rows = []
    for b, problems in benchmarks.items():
        enc = encode_problems(tokenizer, problems, cfg.data)
        skipped[b] = skipped.get(b, 0) + len(enc.skipped)
        if not enc.problems:
            raise ValueError(f"benchmark {b!r}: every prompt is longer than data.max_prompt_tokens")
        for p, ids in zip(enc.problems, enc.prompt_ids):
            rows += [Row(b, p.id, j, list(ids), p.answer) for j in range(cfg.eval.n_samples)]
    return rows


def eval_rollout(cfg, schedule: str):
    """The engine settings for evaluation: ``cfg.rollout`` with the eval decoding, both models sampling alike."""
    ec = cfg.eval
    return dataclasses.replace(
        cfg.rollout, schedule=schedule, max_new_tokens=ec.max_new_tokens, temperature=ec.temperature,
        top_p=ec.top_p, top_k=ec.top_k, junior_temperature=None, junior_top_p=None, junior_top_k=None, p_end=None,
        max_turns=turn_cap(ec.max_rounds) if SCHEDULES[schedule].turn_limit else None)


def turn_cap(max_rounds: int) -> int:
    """The engine's turn limit for ``eval.max_rounds``: a round is a senior turn plus a junior turn, as the
    authors count it (150 rounds = up to 300 turns)::

        >>> turn_cap(150)
        300
    """
    return 2 * max_rounds


def generate_rows(gen, rows: list[Row], rollout, *, batch_size: int, seed: int, desc: str, progress: bool):
    """All rows through the engine in batches of ``batch_size``; batch ``i`` uses seed ``seed + i``."""
    starts = range(0, len(rows), batch_size)
    if progress:
        starts = tqdm(starts, desc=desc, unit="batch")
    parts = [gen.generate([r.prompt_ids for r in rows[s:s + batch_size]], rollout, seed=seed + i)
             for i, s in enumerate(starts)]
    return Rollouts.concat(parts)


def _segments(text: str, who: np.ndarray) -> list[list]:
    """Runs of one author: 'ab'+'c' with authors [1,1,0] -> [[1, 'ab'], [0, 'c']]."""
    out: list[list] = []
    for ch, a in zip(text, who.tolist()):
        if out and out[-1][0] == a:
            out[-1][1] += ch
        else:
            out.append([int(a), ch])
    return out


def grade_rows(pool, tokenizer, rows: list[Row], ro, *, label: str, schedule: str, answer_format: str):

    decoded = response_texts(tokenizer, ro)
    results = pool.grade([t for t, _ in decoded], [r.gold for r in rows], answer_format=answer_format,
                         char_authors=[w for _, w in decoded])
    return [SampleRecord(label=label, benchmark=r.benchmark, problem_id=r.problem_id, sample=r.sample,
                         schedule=schedule, response_ids=[int(x) for x in ids], author=[int(x) for x in a],
                         segments=_segments(text, who), text=text, reward=float(res.reward),
                         extracted=res.extracted, answer_author=res.answer_author, finish_reason=fr, gold=r.gold)
            for r, ids, a, (text, who), res, fr in zip(rows, ro.response_ids, ro.author, decoded, results,
                                                      ro.finish_reason)]


def _mean(x) -> Optional[float]:
    return float(np.mean(x)) if x is not None and len(x) else None


def evaluate(cfg, seniors: dict[str, str], *, junior: str, base: Optional[str], output_dir,
             step_checker: Optional[StepChecker] = None, progress: bool = True, reuse: bool = False) -> dict:
    """Evaluate every senior; returns ``{"labels": {label: summary}, "comparison": {...}}`` (also on disk).

    ``reuse=True``: a label whose ``samples.jsonl`` already exists in ``output_dir`` is not generated again; its
    records are read back (e.g. after a crash in a later label, or to add displacement afterwards)."""
    ec, mc = cfg.eval, cfg.model
    if not seniors:
        raise ValueError("evaluate: no senior checkpoints given")
    metrics_on = set(ec.metrics) | {"solo"}
    unknown = metrics_on - {"solo", "handoff", "legibility", "drift", "transfer"}
    if unknown:
        raise ValueError(f"eval.metrics: unknown {sorted(unknown)}; choose from solo, handoff, legibility, drift, "
                         "transfer")
    if "transfer" in metrics_on:
        check_fractions(ec.transfer_fractions)
        bad_units = [u for u in ec.transfer_units if u not in UNITS] or ([] if ec.transfer_units else ["(none)"])
        if bad_units:
            raise ValueError(f"eval.transfer_units: {bad_units}; choose one or more of {list(UNITS)}")
        if cfg.reward.answer_format not in ("boxed", "boxed-strict"):  # the cut before the answer finds boxes only
            raise ValueError(f"eval.metrics 'transfer' needs reward.answer_format 'boxed' or 'boxed-strict', got "
                             f"{cfg.reward.answer_format!r}: with another format the senior's answer would stay in "
                             f"the prefix handed to the junior")
    bad = [s for s in ec.handoff_schedules if s not in SCHEDULES or not SCHEDULES[s].cowrites]
    if "handoff" in metrics_on and bad:
        raise ValueError(f"eval.handoff_schedules: {bad} are not co-writing schedules; choose from "
                         f"{[s for s in SCHEDULES if SCHEDULES[s].cowrites]}")
    checker = step_checker or load_step_checker(ec.step_checker)
    disp = _parse_displacement(ec.displacement, seniors, base)
    benches, skipped_rows = load_benchmarks(cfg)  # bad data fails before any model loads
    out_dir = Path(output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out_dir / "eval_config.yaml")

    junior_dev = mc.junior_device or mc.device
    junior_model = freeze(load_model(junior, dtype=mc.dtype, device=junior_dev))
    base_model = None
    if base is not None and ("drift" in metrics_on or disp):
        base_model = junior_model if base == junior else freeze(load_model(base, dtype=mc.dtype, device=junior_dev))
    opts = dict(resamples=ec.bootstrap, seed=ec.seed, confidence=ec.confidence)
    summaries, metrics_by_label, solo_texts = {}, {}, {}
    with GraderPool.from_config(cfg.reward) as pool:
        for label, path in seniors.items():
            path = resolve_checkpoint(path)
            tok = load_tokenizer(mc.tokenizer or path)
            skipped = dict(skipped_rows)
            rows = build_rows(cfg, benches, tok, skipped)
            if reuse and (out_dir / label / SAMPLES_FILE).is_file():
                records = _reused(out_dir / label / SAMPLES_FILE, rows)
                if checker is not None:  # text only: records of an older version gain the anatomy, on disk too
                    _check_steps(records, checker, budget_rule(checker, benches, tok, ec.max_new_tokens))
                    write_jsonl(out_dir / label / SAMPLES_FILE, records)
                transfer = (read_jsonl(out_dir / label / TRANSFER_FILE, TransferRecord)
                            if (out_dir / label / TRANSFER_FILE).is_file() else [])
                summaries[label] = label_summary(records, transfer, label=label, **opts)
                summaries[label].update(checkpoint=path, junior=junior, base=base, setting=ec.setting,
                                        skipped=skipped, reused=True)
                write_json(out_dir / label / SUMMARY_FILE, summaries[label])
                metrics_by_label[label] = {**label_metrics(records, where=label), **transfer_metrics(transfer)}
                if disp and label in disp:
                    solo = [r for r in records if r.schedule == "solo"]
                    solo_texts[label] = ([rows[i].prompt_ids for i in range(len(solo))], solo)
                continue
            senior = load_model(path, dtype=mc.dtype, device=mc.device)
            junior_tok = load_junior_tokenizer(junior, tok)  # None: the junior reads the senior's tokens
            gen = co_generator(senior, junior_model, tok, junior_tok, decode=cfg.rollout.decode)
            records, cost = [], {}
            schedules = ["solo"] + (list(ec.handoff_schedules) if "handoff" in metrics_on else [])
            for si, schedule in enumerate(schedules):
                ro = generate_rows(gen, rows, eval_rollout(cfg, schedule), batch_size=ec.batch_size,
                                   seed=ec.seed * 1_000_003 + si * 100_003, desc=f"{label} {schedule}",
                                   progress=progress)
                records += grade_rows(pool, tok, rows, ro, label=label, schedule=schedule,
                                      answer_format=cfg.reward.answer_format)
                cost[schedule] = ro.cost()
            solo = [r for r in records if r.schedule == "solo"]
            _score_solo(solo, rows, senior, junior_model, base_model, metrics_on, ec.score_token_budget,
                        gen.pad_token_id, progress, label, tokenizers=(tok, junior_tok))
            if ec.notation_regex:
                for r, flag in zip(solo, notation_flags([r.text for r in solo], ec.notation_regex)):
                    r.notation = flag
            if checker is not None:
                _check_steps(records, checker, budget_rule(checker, benches, tok, ec.max_new_tokens))
            transfer = []
            if "transfer" in metrics_on:
                transfer, ro = _transfer(cfg, gen, pool, tok, rows, solo, label, progress)
                cost["transfer"] = ro.cost()
                write_jsonl(out_dir / label / TRANSFER_FILE, transfer)
            write_jsonl(out_dir / label / SAMPLES_FILE, records)
            summary = label_summary(records, transfer, label=label, **opts)
            summary.update(checkpoint=path, junior=junior, base=base, setting=ec.setting, skipped=skipped, cost=cost)
            write_json(out_dir / label / SUMMARY_FILE, summary)
            summaries[label] = summary
            metrics_by_label[label] = {**label_metrics(records, where=label), **transfer_metrics(transfer)}
            if disp and label in disp:
                solo_texts[label] = ([rows[i].prompt_ids for i in range(len(solo))], solo)
            del gen, senior
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
    comparison = compare(metrics_by_label, groups=ec.seed_groups or None, pairs=ec.pairs, **opts)
    comparison.update(setting=ec.setting, junior=junior, base=base)
    if disp:
        comparison["displacement"] = _displacement(cfg, seniors, disp, base_model, solo_texts, out_dir, progress,
                                                   **opts)
    write_json(out_dir / COMPARISON_FILE, comparison)
    return {"labels": summaries, "comparison": comparison}


def budget_rule(checker, benchmarks: dict[str, list], tokenizer, max_new_tokens: int):
    """``record -> fits`` from the step checker's optional ``fits_budget`` (the anatomy's budget rule,
    ``anatomy.py``), or None when the checker has none. ``fits`` is None for a problem the rule does not know."""
    fits = getattr(checker, "fits_budget", None)
    if fits is None:
        return None
    problems = {(b, p.id): p for b, ps in benchmarks.items() for p in ps}

    def rule(r: SampleRecord) -> Optional[bool]:
        p = problems.get((r.benchmark, r.problem_id))
        return None if p is None else fits(p, r.text, tokenizer, max_new_tokens)
    return rule


def _check_steps(records: list[SampleRecord], checker: StepChecker, fits=None) -> None:
    """In place: ``steps`` of the solo records (faithfulness) and, when the checker says where things are
    written, ``failure`` / ``failure_author`` of every record (the error anatomy, ``anatomy.py``, with the budget
    rule ``fits`` when given: see ``budget_rule``; a checker that only counts is not called on the handoff
    records)."""
    rich = None
    for r in sorted(records, key=lambda r: r.schedule != "solo"):  # solo first: they tell what the checker gives
        if r.schedule != "solo" and not rich:
            continue
        check = checker(r.text)
        if r.schedule == "solo":
            steps = step_counts(check)
            faithfulness(steps, r.reward >= CORRECT)  # validates the checker's answer
            r.steps = list(steps)
        rich = supports_anatomy(check) if rich is None else rich
        if rich:
            r.failure, r.failure_author = anatomy(check, char_authors(r.segments), r.finish_reason,
                                                  r.reward >= CORRECT, fits=fits(r) if fits else None)


def _transfer(cfg, gen, pool, tok, rows: list[Row], solo: list[SampleRecord], label: str, progress: bool):
    """Transfer curves on the first ``eval.transfer_limit`` problems of each benchmark and the first
    ``eval.transfer_samples`` solo samples of each (``solo[i]`` answers ``rows[i]``)."""
    ec = cfg.eval
    keep, seen = [], {}
    for i, r in enumerate(solo):
        probs = seen.setdefault(r.benchmark, {})
        probs.setdefault(r.problem_id, len(probs))
        if ((ec.transfer_limit is None or probs[r.problem_id] < ec.transfer_limit)
                and (ec.transfer_samples is None or r.sample < ec.transfer_samples)):
            keep.append(i)
    return run_transfer(gen, pool, tok, [rows[i].prompt_ids for i in keep], [solo[i] for i in keep],
                        eval_rollout(cfg, "junior"), fractions=ec.transfer_fractions, units=ec.transfer_units,
                        batch_size=ec.batch_size, seed=ec.seed * 1_000_003 + 50 * 100_003,
                        answer_format=cfg.reward.answer_format, label=label, progress=progress,
                        generate_rows=generate_rows)


def _reused(path: Path, rows: list[Row]) -> list[SampleRecord]:
    """Records read back from ``path``; their solo rows must match today's rows (same problems, same order)."""
    records = read_jsonl(path, SampleRecord)
    solo = [(r.benchmark, r.problem_id, r.sample) for r in records if r.schedule == "solo"]
    want = [(r.benchmark, r.problem_id, r.sample) for r in rows]
    if solo != want:
        raise ValueError(f"{path}: its solo samples are not the rows of the current eval config (other benchmarks, "
                         "limit or n_samples?); remove the file or use another output folder")
    return records


def _parse_displacement(spec: Optional[str], seniors: dict, base: Optional[str]) -> Optional[tuple[str, str]]:
    if not spec:
        return None
    parts = [s.strip() for s in spec.split(",")]
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"eval.displacement {spec!r} must be 'GRPO_LABEL,TANDEM_LABEL'")
    missing = [p for p in parts if p not in seniors]
    if missing:
        raise ValueError(f"eval.displacement names {missing}, not among the seniors {sorted(seniors)}")
    if base is None:
        raise ValueError("eval.displacement needs a base model (--base)")
    return parts[0], parts[1]


def _score_solo(solo, rows, senior, junior, base, metrics_on, budget, pad_id, progress, label, *,
                tokenizers=(None, None)) -> None:
    """Fill ce_junior (nats/token), ce_junior_per_byte (nats/byte) / kl_base / kl_junior (per-token means) on the
    solo records, in place. ``tokenizers``: (the senior's, the junior's own or None when it reads the senior's).

    A junior with its own tokenizer reads the same text in its own tokens (prompt and response re-encoded, its EOS
    where the senior's response ended in EOS); ``kl_junior`` needs one vocabulary and stays None for it."""
    tok, junior_tok = tokenizers
    legible = "legibility" in metrics_on
    ce = ["junior"] if legible and junior_tok is None else []
    kl = []
    if "drift" in metrics_on:
        kl = ([("senior", "junior")] if junior_tok is None else []) + ([("senior", "base")] if base is not None else [])
    prompts = [rows[i].prompt_ids for i in range(len(solo))]
    s = None
    if ce or kl:
        s = score_texts({"senior": senior, "junior": junior, "base": base}, prompts, [r.response_ids for r in solo],
                        ce=ce, kl=kl, token_budget=budget, pad_token_id=pad_id, progress=progress,
                        desc=f"{label} scoring")
    ce_rows = s.ce["junior"] if ce else None
    if legible and junior_tok is not None:
        jp, jr = _junior_reading(tok, junior_tok, prompts, solo)
        ce_rows = score_texts({"junior": junior}, jp, jr, ce=["junior"], token_budget=budget,
                              pad_token_id=junior_tok.pad_token_id or 0, progress=progress,
                              desc=f"{label} junior reads").ce["junior"]
    for i, r in enumerate(solo):
        if ce_rows is not None:
            r.ce_junior = _mean(ce_rows[i])
            n_bytes = len(r.text.encode("utf-8"))
            r.ce_junior_per_byte = float(np.sum(ce_rows[i]) / n_bytes) if n_bytes and len(ce_rows[i]) else None
        if ("senior", "junior") in kl:
            r.kl_junior = _mean(s.kl[("senior", "junior")][i])
        if ("senior", "base") in kl:
            r.kl_base = _mean(s.kl[("senior", "base")][i])


def _junior_reading(tok, junior_tok, prompts, solo) -> tuple[list, list]:
    """Prompts and solo responses in the junior's own tokens: the same text (lossless byte-level encoding), and
    the junior's EOS where the senior's response ended with its EOS."""
    jb = TokenBytes(junior_tok, "junior's tokenizer")
    eos = junior_tok.eos_token_id
    jp = [junior_prompt(tok, junior_tok, p) for p in prompts]
    jr = [jb.encode(r.text.encode("utf-8")) + ([eos] if r.finish_reason == "eos" and eos is not None else [])
          for r in solo]
    return jp, jr


def _displacement(cfg, seniors, disp, base_model, solo_texts, out_dir, progress, **opts) -> dict:
    """Top tokens of GRPO, tandem and base on both seniors' solo texts -> displaced / returned counts."""

    mc = cfg.model
    grpo, tandem = disp
    models = {"grpo": load_model(resolve_checkpoint(seniors[grpo]), dtype=mc.dtype, device=mc.device),
              "tandem": load_model(resolve_checkpoint(seniors[tandem]), dtype=mc.dtype, device=mc.device),
              "base": base_model}
    rows_out = []
    for source in (grpo, tandem):
        prompts, solo = solo_texts[source]
        s = score_texts(models, prompts, [r.response_ids for r in solo], top=["grpo", "tandem", "base"],
                        token_budget=cfg.eval.score_token_budget, progress=progress, desc=f"displacement {source}")
        for i, r in enumerate(solo):
            d = displacement_counts(s.top["base"][i], s.top["grpo"][i], s.top["tandem"][i])
            rows_out.append(DisplacementRecord(grpo, tandem, source, r.benchmark, r.problem_id, r.sample,
                                               d.positions, d.displaced, d.returned))
    write_jsonl(out_dir / DISPLACEMENT_FILE, rows_out)
    metric = displacement_metric(rows_out)
    result = {"grpo": grpo, "tandem": tandem, "positions": int(sum(r.positions for r in rows_out)),
              "displaced": int(sum(r.displaced for r in rows_out)), "returned": int(sum(r.returned for r in rows_out))}
    if metric is not None:
        result["metrics"] = summarize_metrics({"displacement_share": [metric]}, [], **opts)
    return result

