"""The exceptions every ArrowQuant call raises: one hierarchy under ArrowQuantError, each class also a
subclass of the builtin that fits, so `except ValueError` / `except OSError` keep working.

The C++ errors map onto them: a malformed file (FormatError) is ModelFormatError, a tensor whose shape
disagrees with the model (ShapeError) ShapeMismatchError, a file that cannot be read or written
(IoError) ModelIOError, a stopped run (Interrupted, or a progress callback returning False) Cancelled;
an unusable value (ValueError) is named after the call it broke: ConfigurationError for settings,
QuantizationError for a quantisation run, ValidationError for loading and evaluating.
"""
from __future__ import annotations

import re

# C++ messages start with the file they are about ("/m/model.parquet: not a valid ...") and name a tensor
# as "tensor NAME"; the attributes below are read from there.
_PATH = re.compile(r"^((?:[A-Za-z]:)?[^\s:]*[/\\.][^\s:]*):\s")
_TENSOR = re.compile(r"\btensor ([A-Za-z0-9_.\-/]+[A-Za-z0-9_])")


class ArrowQuantError(Exception):
    """Base of every ArrowQuant error. The message names the file and, where there is one, the tensor;
    `path` and `tensor` hold them (None when the message names none)."""

    def __init__(self, message: str = "", *, path: str | None = None, tensor: str | None = None) -> None:
        super().__init__(message)
        m = _PATH.match(message) if path is None else None
        self.path = path if path is not None else (m.group(1) if m else None)
        t = _TENSOR.search(message) if tensor is None else None
        self.tensor = tensor if tensor is not None else (t.group(1) if t else None)


class ConfigurationError(ArrowQuantError, ValueError):
    """A setting is unknown, out of range or inconsistent with another."""


class ModelFormatError(ArrowQuantError, ValueError):
    """A model file is malformed: truncated, inconsistent header, unknown format, bad checksum."""


class ShapeMismatchError(ModelFormatError):
    """A tensor's shape disagrees with the model's configuration or with the tensors beside it."""


class ModelIOError(ArrowQuantError, OSError):
    """A file or folder cannot be read or written (missing model, unwritable output)."""


class CalibrationError(ArrowQuantError, ValueError):
    """Calibration text is missing, empty or unusable for the run."""


class QuantizationError(ArrowQuantError, ValueError):
    """The weights cannot be quantised as asked (NaN weights, a format that cannot hold a tensor)."""


class ValidationError(ArrowQuantError, ValueError):
    """A model cannot be loaded, run or evaluated as asked."""


class Cancelled(ArrowQuantError):
    """The run was stopped (a progress callback returned False, or the work was cancelled); nothing
    was left on disk."""


__all__ = ["ArrowQuantError", "ConfigurationError", "ModelFormatError", "ShapeMismatchError", "ModelIOError",
           "CalibrationError", "QuantizationError", "ValidationError", "Cancelled"]
