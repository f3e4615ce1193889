"""The errors a user's input causes (a bad config, file, model name or precision): tools print them as one line.

Anything else raised inside paddle_attn is a bug, and keeps its traceback.
"""


class UserError(Exception):
    """Base of every error caused by what the user asked for; `tools/*.py` print it as `error: ...`, exit 2."""


class ConfigError(UserError, ValueError):
    """A config that cannot run; the message names the key, its source and the valid choices."""


class ModelError(UserError, ValueError):
    """A model that cannot be built as asked: unknown name, bad argument, unknown attention option."""


class CheckpointError(UserError, RuntimeError):
    """A checkpoint that is missing, incomplete, corrupt, of another model, or that cannot continue this run."""


class DataError(UserError, RuntimeError):
    """Data that cannot be found or read; the message names the file."""


class InferenceError(UserError, RuntimeError):
    """An export that cannot be read or run as asked (missing files, a precision this CPU lacks)."""


class TrainingStopped(UserError):
    """Raised out of `fit` to end a run early (a signal, a non-finite loss); tools report it and exit 2."""


def did_you_mean(word, choices, n=3):
    """ " (did you mean 'a' or 'b'?)" for the choices close to `word`, else "": the tail of an error message."""
    import difflib

    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=n, cutoff=0.6)
    return f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
