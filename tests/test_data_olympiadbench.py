"""OlympiadBench from a local file in its published format (issue 16): the fixture mimics a published subset file
(a JSON list; fields question, final_answer (list), id, subject, unit, answer_type, is_multiple_answer, error)."""

import json
import shutil
from pathlib import Path

import pytest

from tandem_rl.data import DataConfig, DataError, load_problems
from tandem_rl.data.olympiadbench import load_olympiadbench, olympiad_record

FILE = Path(__file__).parent / "fixtures" / "data" / "olympiadbench" / "OE_TO_maths_en_COMP.json"


def test_reader_on_the_fixture_skips_the_malformed_and_image_rows_with_clear_messages():
    ps = load_olympiadbench(FILE, on_error="skip")
    got = {p.id: p.answer for p in ps.problems}
    assert got == {"olympiadbench:1606": r"\sqrt{2}", "olympiadbench:1607": "6", "olympiadbench:1608": "3,-3",
                   "olympiadbench:1611": "60"}
    assert [str(s) for s in ps.skipped] == [
        "OE_TO_maths_en_COMP.json, row 4, field 'image': not text-only: excluded",
        "OE_TO_maths_en_COMP.json, row 5, field 'final_answer': expected a non-empty list of strings, got str '5'"]
    speed = next(p for p in ps.problems if p.id.endswith("1611"))
    assert speed.meta["unit"] == "km/h" and speed.meta["answer_type"] == "Numerical"
    assert speed.problem.startswith("Synthetic: a train") and speed.source == "olympiadbench"
    assert next(p for p in ps.problems if p.id.endswith("1608")).meta["is_multiple_answer"] is True


def test_malformed_row_raises_by_default_naming_file_row_field():
    with pytest.raises(DataError, match=r"OE_TO_maths_en_COMP.json, row 5, field 'final_answer'"):
        load_olympiadbench(FILE)


def test_sources_through_load_problems(tmp_path):
    direct = load_problems(DataConfig(source=f"olympiadbench:{FILE}", on_error="skip"))
    assert len(direct.problems) == 4 and len(direct.skipped) == 2
    shutil.copy(FILE, tmp_path / "olympiadbench.json")
    via_dir = load_problems(DataConfig(source="olympiadbench", recipe_dir=str(tmp_path), on_error="skip"))
    assert sorted(p.id for p in via_dir.problems) == sorted(p.id for p in direct.problems)
    with pytest.raises(DataError, match="recipe_dir"):
        load_problems(DataConfig(source="olympiadbench"))
    with pytest.raises(DataError, match="no olympiadbench.json"):
        load_problems(DataConfig(source="olympiadbench", recipe_dir=str(tmp_path / "none")))
    with pytest.raises(DataError, match="no such OlympiadBench file"):
        load_problems(DataConfig(source=f"olympiadbench:{tmp_path / 'missing.json'}"))


@pytest.mark.parametrize("answers, reason", [
    (None, "got missing"), ([], "got list"), ([7], "first entry"), (["$ $"], "first entry")])
def test_record_checks(answers, reason):
    from tandem_rl.data.olympiadbench import _Malformed

    with pytest.raises(_Malformed, match=reason):
        olympiad_record({"question": "q", "final_answer": answers})


def test_json_lines_and_empty_question(tmp_path):
    p = tmp_path / "ob.jsonl"
    p.write_text(json.dumps({"id": 1, "question": "", "final_answer": ["1"]}) + "\n"
                 + json.dumps({"id": 2, "question": "2+2?", "final_answer": ["4"]}) + "\n")
    ps = load_olympiadbench(p, on_error="skip")
    assert [x.answer for x in ps.problems] == ["4"]
    assert str(ps.skipped[0]) == "ob.jsonl, row 1, field 'question': empty"
