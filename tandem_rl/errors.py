"""The project's error types for bad input, and the one-line message the CLI prints for them.

Raise these where the bad input is found, with a message that names the file, field or value; ``tandem-rl``
prints ``tandem-rl <command>: error: <message>`` and exits 2 (``tandem-rl --debug ...`` shows the traceback).
Anything else (a bug) still ends with its traceback. Each type also derives from the built-in error older callers
catch, so ``except ValueError`` / ``except OSError`` keep working::

    >>> isinstance(ConfigError("train.lr: expected a number"), ValueError)
    True
    >>> one_line(InputFileError("/x/model.safetensors: truncated"))
    '/x/model.safetensors: truncated'
    >>> one_line(FileNotFoundError(2, "No such file or directory", "runs/a/metrics.jsonl"))
    'runs/a/metrics.jsonl: No such file or directory'
"""

from __future__ import annotations

from typing import Optional


class UserError(Exception):
    """Bad input the user can fix: a file, a field, a value, a command-line argument."""


class ConfigError(UserError, ValueError):
    """A config file, an override, a field's or a command-line value (YAML syntax, unknown key, out of range)."""


class InputFileError(UserError, OSError):
    """A path that does not exist, or a file that is not what it claims (a truncated checkpoint, a folder that is
    not a saved model)."""


def one_line(err: BaseException) -> Optional[str]:
    """The message to print for ``err`` when it is bad input, else None (the caller re-raises: a bug keeps its
    traceback). Operating-system errors (a missing file, a port in use, a full disk) name their file or address."""
    if isinstance(err, UserError):
        text = str(err)
    elif isinstance(err, OSError):
        if err.filename is not None and err.strerror:
            where = f"{err.filename}" + (f" -> {err.filename2}" if err.filename2 else "")
            text = f"{where}: {err.strerror}"
        else:
            text = str(err) or type(err).__name__
    else:
        return None
    return " ".join(text.split())  # one line, whatever the message held
