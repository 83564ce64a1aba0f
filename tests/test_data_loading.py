"""Loading problems: formats, column mapping, validation messages, skips, recipes on fixtures, gym, splits."""

from pathlib import Path

import pytest

from tandem_rl.data import DataConfig, DataError, Problem, load_problems, split_holdout
from tandem_rl.data.readers import read_rows

FIX = Path(__file__).parent / "fixtures" / "data"


def cfg(source, **kw):
    return DataConfig(source=str(source), **kw)


def by_problem(ps):
    return {p.problem: p.answer for p in ps.problems}


def test_jsonl_with_mixed_column_names_and_boxed_solution():
    ps = load_problems(cfg(FIX / "problems.jsonl"))
    assert by_problem(ps) == {"What is 2+3?": "5", "What is 10/4?": "\\frac{5}{2}", "What is 7-9?": "-2"}
    assert {p.source for p in ps.problems} == {"problems"} and not ps.skipped
    assert len({p.id for p in ps.problems}) == 3


def test_csv_and_parquet():
    assert by_problem(load_problems(cfg(FIX / "problems.csv"))) == {"What is 6*7?": "42", "What is 1/2+1/2?": "1"}
    assert by_problem(load_problems(cfg(FIX / "problems.parquet"))) == {"What is 9-4?": "5", "What is 3*3?": "9"}


def test_saved_datasets_folder(tmp_path):
    from datasets import Dataset, DatasetDict

    DatasetDict({"test": Dataset.from_list([{"question": "1+1?", "final_answer": "2"}])}).save_to_disk(tmp_path / "d")
    assert by_problem(load_problems(cfg(tmp_path / "d", split="test"))) == {"1+1?": "2"}
    with pytest.raises(DataError, match="no split 'train'"):
        load_problems(cfg(tmp_path / "d", split="train"))


def test_explicit_columns(tmp_path):
    f = tmp_path / "custom.jsonl"
    f.write_text('{"q": "What is 4*4?", "gold": "16", "answer": "wrong"}\n')
    ps = load_problems(cfg(f, problem_column="q", answer_column="gold"))
    assert by_problem(ps) == {"What is 4*4?": "16"}
    with pytest.raises(DataError, match=r"custom.jsonl, row 1, field 'nope': missing"):
        load_problems(cfg(f, problem_column="nope"))


def test_malformed_rows_raise_naming_file_row_field():
    with pytest.raises(DataError) as e:
        load_problems(cfg(FIX / "malformed.jsonl"))
    assert str(e.value) == "malformed.jsonl, row 2, field 'problem': empty"


def test_malformed_rows_skipped_and_counted():
    ps = load_problems(cfg(FIX / "malformed.jsonl", on_error="skip"))
    assert by_problem(ps) == {"ok row": "1", "fine too": "8"}
    got = [(s.row, s.field, s.reason.split(" (")[0]) for s in ps.skipped]
    assert got == [
        (2, "problem", "empty"), (3, "problem", "missing"), (4, "answer", "missing"),
        (5, "answer", "expected a string or number, got list"), (6, "(row)", "not valid JSON"),
        (7, "solution", "no \\boxed{...} answer in the solution"), (8, "problem", "expected a string, got int"),
    ]
    assert all(s.file == "malformed.jsonl" for s in ps.skipped)


def test_missing_file_and_bad_suffix(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_problems(cfg(tmp_path / "nope.jsonl"))
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(DataError, match="unsupported file type"):
        load_problems(cfg(tmp_path / "x.txt"))


def test_hub_failure_is_a_clear_error(monkeypatch):
    import datasets

    def offline(*a, **k):
        raise ConnectionError("Couldn't reach 'someone/some-set' on the Hub")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(DataError, match="could not load the hub dataset 'someone/some-set'.*recipe_dir"):
        load_problems(cfg("someone/some-set"))
    with pytest.raises(DataError, match="agentica-org/DeepScaleR-Preview-Dataset"):
        load_problems(cfg("deepscaler"))


def test_shuffle_and_limit_are_deterministic():
    a = load_problems(cfg(FIX / "malformed.jsonl", on_error="skip", shuffle_seed=3))
    b = load_problems(cfg(FIX / "malformed.jsonl", on_error="skip", shuffle_seed=3))
    assert [p.id for p in a.problems] == [p.id for p in b.problems]
    assert len(load_problems(cfg(FIX / "problems.jsonl", limit=2)).problems) == 2


def test_split_holdout_deterministic_disjoint_order_independent():
    ps = [Problem(f"s:{i}", f"q{i}", str(i), "s") for i in range(200)]
    train, held = split_holdout(ps, 20, seed=7)
    assert len(train) == 180 and len(held) == 20
    assert not {p.id for p in train} & {p.id for p in held}
    again = split_holdout(list(reversed(ps)), 20, seed=7)[1]
    assert {p.id for p in again} == {p.id for p in held}
    assert {p.id for p in split_holdout(ps, 20, seed=8)[1]} != {p.id for p in held}
    assert [p.id for p in train] == [p.id for p in ps if p.id not in {h.id for h in held}]  # input order kept
    with pytest.raises(ValueError):
        split_holdout(ps, 201, seed=0)


# ---- recipes, on local fixtures in each hub set's real columns ----------------------------------------------------

REC = FIX / "recipes"


def test_deepscaler_recipe_drops_empty_answers():
    ps = load_problems(cfg("deepscaler", recipe_dir=REC))
    assert sorted(ps.problems, key=lambda p: p.answer)[0].answer == "32"
    assert set(by_problem(ps).values()) == {"7", "\\frac{3}{4}", "32"}
    assert [(s.row, s.field) for s in ps.skipped] == [(3, "answer")]


def test_aime_recipe_pools_three_years_with_their_own_columns():
    ps = load_problems(cfg("aime", recipe_dir=REC))
    got = {p.id: p.answer for p in ps.problems}
    # aime24's gold comes from the boxed solution; aime26's answers are integers in the source
    assert got == {"aime24:60": "24", "aime24:61": "9", "aime25:0": "35", "aime25:1": "121",
                   "aime26:1": "30", "aime26:2": "81"}


def test_amc_recipe_applies_the_authors_exclusions():
    ps = load_problems(cfg("amc", recipe_dir=REC))
    assert sorted(p.answer for p in ps.problems) == sorted(["2", "0.75", "42", "5", "99"])
    assert sorted(s.reason.split(" excluded")[0] for s in ps.skipped) == ["answer '4{:}30'", "answer 'D'"]
    assert {p.meta.get("exam") for p in ps.problems if p.source == "amc24"} == {"2024 AMC 12A", "2024 AMC 12B"}


def test_math500_parquet_and_minerva():
    ps = load_problems(cfg("math500", recipe_dir=REC))
    assert {p.answer for p in ps.problems} == {"4", "\\frac{1}{2}"}
    assert {p.meta["subject"] for p in ps.problems} == {"Algebra", "Prealgebra"}
    assert [p.answer for p in load_problems(cfg("minerva", recipe_dir=REC)).problems] == ["6"]


def test_recipe_dir_missing_part(tmp_path):
    with pytest.raises(DataError, match="no local copy of 'aime24'"):
        load_problems(cfg("aime24", recipe_dir=tmp_path))


def test_gym_source_is_seeded():
    a = load_problems(cfg("gym:basic_arithmetic", gym_size=5, gym_seed=1))
    b = load_problems(cfg("gym:basic_arithmetic", gym_size=5, gym_seed=1))
    assert len(a.problems) == 5 and [p.problem for p in a.problems] == [p.problem for p in b.problems]
    assert all(p.source == "gym:basic_arithmetic" and p.answer for p in a.problems)
    g = load_problems(cfg("gym:gsm_symbolic", gym_size=2)).problems
    assert all(p.meta["answer_cot"].strip().endswith(p.answer) for p in g)
    with pytest.raises(DataError, match="reasoning-gym could not create"):
        load_problems(cfg("gym:no_such_generator", gym_size=2))


def test_read_rows_reports_json_errors_in_place():
    rows = list(read_rows(str(FIX / "malformed.jsonl")))
    assert [r for r, rec in rows if isinstance(rec, DataError)] == [6]


def test_unknown_source_names_the_choices(tmp_path):
    with pytest.raises(DataError, match="aime2024.*recipe \\(aime, aime24"):
        load_problems(cfg("aime2024"))
    (tmp_path / "plain").mkdir()
    with pytest.raises(DataError, match="save_to_disk"):
        load_problems(cfg(tmp_path / "plain"))


def test_recipes_ask_the_hub_for_the_right_names_and_splits(monkeypatch):
    """The hub path, with datasets.load_dataset faked from the fixtures: same problems as recipe_dir gives."""
    import datasets

    from tandem_rl.data.recipes import RECIPES

    by_hub = {p.hub: p.name for parts in RECIPES.values() for p in parts}
    calls = []

    def fake_load_dataset(name, split=None):
        calls.append((name, split))
        part = by_hub[name]
        path = next(REC.glob(f"{part}.*"))
        ds = (datasets.Dataset.from_parquet(str(path)) if path.suffix == ".parquet"
              else datasets.Dataset.from_json(str(path)))
        return ds if split is not None else datasets.DatasetDict({"train": ds})

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    for name in ("aime", "amc", "math500", "minerva", "deepscaler"):
        calls.clear()
        hub = load_problems(cfg(name))
        local = load_problems(cfg(name, recipe_dir=REC))
        assert sorted((p.id, p.answer) for p in hub.problems) == sorted((p.id, p.answer) for p in local.problems)
        assert len(hub.skipped) == len(local.skipped)
        assert calls == [(p.hub, p.split) for p in RECIPES[name]]


def test_world_sources_read_the_shipped_problem_files():
    from tandem_rl.world.assets import problems_file

    test = load_problems(DataConfig(source="world:test"))
    n_lines = sum(1 for line in problems_file("test").read_text().splitlines() if line.strip())
    assert len(test.problems) == n_lines and not test.skipped
    assert all(p.answer.lstrip("-").isdigit() for p in test.problems)
    train_keys = {p.meta["key"] for p in load_problems(DataConfig(source="world:train")).problems}
    assert not train_keys & {p.meta["key"] for p in test.problems}  # disjoint splits
    with pytest.raises(ValueError, match="world split"):
        load_problems(DataConfig(source="world:dev"))
