"""Bad input ends in one line naming the file / field / value and exit status 2, never a traceback (issue #34, item
2); `--debug` shows the traceback; a bug (an unexpected exception) keeps its traceback."""

import shutil
import socket

import pytest

from tandem_rl import cli
from tandem_rl.cli import main


def _one_error_line(capsys, command: str, *needles: str) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith(f"tandem-rl {command}: error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def _train_yaml(root, senior, out="run"):
    path = root / "c.yaml"
    path.write_text(f"model:\n  senior: {senior}\ndata:\n  source: {root / 'p.jsonl'}\n"
                    f"train:\n  output_dir: {root / out}\n  prompts_per_step: 2\n  loggers: [jsonl]\n  steps: 1\n"
                    "grpo:\n  group_size: 2\nrollout:\n  max_new_tokens: 4\nreward:\n  workers: 0\n")
    return str(path)


def test_malformed_yaml_in_a_file_and_in_an_override(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  lr: [1\n  steps: 3\n")
    assert main(["train", str(bad)]) == 2
    _one_error_line(capsys, "train", str(bad), "line 3", "not valid YAML")
    assert main(["eval", "train.lr=[1"]) == 2
    line = _one_error_line(capsys, "eval", "override 'train.lr=[1'", "not valid YAML")
    assert "<unicode string>" not in line
    assert main(["train", str(tmp_path / "missing.yaml")]) == 2
    _one_error_line(capsys, "train", "missing.yaml")


def test_debug_shows_the_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [1\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        main(["--debug", "train", str(bad)])
    with pytest.raises(ValueError, match="not valid YAML"):
        main(["train", str(bad), "--debug"])


def test_a_bug_keeps_its_traceback(monkeypatch):
    import tandem_rl.report.command as report

    def bug(args):
        raise KeyError("not bad input: a bug")

    monkeypatch.setattr(report, "run", bug)
    with pytest.raises(KeyError):
        main(["report", "x"])


def test_missing_model_paths_name_the_field(tiny_run, capsys):
    assert main(["train", _train_yaml(tiny_run, "/no/such/senior")]) == 2
    line = _one_error_line(capsys, "train", "model.senior", "/no/such/senior", "does not exist")
    assert "Repo id" not in line
    assert main(["train", _train_yaml(tiny_run, tiny_run / "model"), f"model.junior={tiny_run / 'nope'}"]) == 2
    _one_error_line(capsys, "train", "model.junior", str(tiny_run / "nope"))
    assert main(["eval", "--senior", "a=/no/such/senior", "--junior", "world:junior"]) == 2
    _one_error_line(capsys, "eval", "--senior a", "/no/such/senior")
    assert main(["play", "--senior", "a=/no/such/senior", "--problems", "world:test", "--port", "0"]) == 2
    _one_error_line(capsys, "play", "--senior a", "/no/such/senior")


def test_a_folder_that_is_not_a_model(tiny_run, capsys):
    empty = tiny_run / "empty"
    empty.mkdir()
    (empty / "config.json").write_text("{}")
    assert main(["train", _train_yaml(tiny_run, empty)]) == 2
    _one_error_line(capsys, "train", "model.senior", str(empty / "config.json"), "model_type")
    shutil.copytree(tiny_run / "model", tiny_run / "m2")
    (tiny_run / "m2" / "config.json").write_text("{}")  # tokenizer files present, config empty
    assert main(["train", _train_yaml(tiny_run, tiny_run / "m2")]) == 2
    _one_error_line(capsys, "train", "model.senior", str(tiny_run / "m2"))


def test_a_truncated_safetensors_names_the_file(tiny_run, capsys):
    weights = tiny_run / "model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    assert main(["train", _train_yaml(tiny_run, tiny_run / "model")]) == 2
    _one_error_line(capsys, "train", str(weights), "truncated or corrupt")


def test_eval_names_a_missing_best_and_validates_before_loading(tiny_run, capsys, monkeypatch):
    import tandem_rl.eval.runner as runner

    def must_not_run(*a, **k):
        raise AssertionError("models loaded before the inputs were checked")

    monkeypatch.setattr(runner, "evaluate", must_not_run)
    (tiny_run / "run" / "checkpoints").mkdir(parents=True)
    assert main(["eval", "--senior", f"a={tiny_run / 'run'}@best", "--junior", "world:junior"]) == 2
    _one_error_line(capsys, "eval", f"{tiny_run / 'run'}@best", "no best checkpoint")
    assert main(["eval", "configs/demo.yaml", "rollout.p=2", "--senior", "a=world:senior"]) == 2
    _one_error_line(capsys, "eval", "rollout.p must be in [0, 1], got 2")
    assert main(["eval", "configs/demo.yaml", "eval.top_p=0", "--senior", "a=world:senior"]) == 2
    _one_error_line(capsys, "eval", "top_p")


def test_report_on_a_missing_folder(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r.html")]) == 2
    _one_error_line(capsys, "report", str(tmp_path / "nowhere"), "no such folder")
    (tmp_path / "plain").mkdir()
    assert main(["report", str(tmp_path / "plain"), "--out", str(tmp_path / "r.html")]) == 2
    _one_error_line(capsys, "report", str(tmp_path / "plain"), "holds neither")


def test_play_on_a_port_in_use_is_refused_before_the_models_load(capsys, monkeypatch):
    import tandem_rl.play.command as play

    def must_not_run(*a, **k):
        raise AssertionError("models loaded before the port was checked")

    monkeypatch.setattr(play, "build_study", must_not_run)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert main(["play", "configs/demo.yaml", "--senior", "a=world:senior", "--port", str(port)]) == 2
    _one_error_line(capsys, "play", f"--port {port}", "pick another --port")
    assert main(["play", "configs/demo.yaml", "rollout.p=2", "--senior", "a=world:senior", "--port", "0"]) == 2
    _one_error_line(capsys, "play", "rollout.p")


def test_train_translates_os_errors(tiny_run, capsys):
    (tiny_run / "afile").write_text("x")
    assert main(["train", _train_yaml(tiny_run, tiny_run / "model", out="afile/run")]) == 2
    _one_error_line(capsys, "train", str(tiny_run / "afile"))


def test_the_parser_knows_debug():
    assert "--debug" in cli.build_parser().format_help()
