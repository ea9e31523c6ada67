"""ArrowQuant: transformer weights at 2-8 bits in Apache Arrow / Parquet, run memory-mapped on CPUs.

    import arrowquant as aq
    config = aq.QuantConfig.from_profile("edge", bits=4)
    report = aq.QuantizationManager(config).quantize("model_dir", "out_dir", progress=print)
    engine = aq.ArrowEngine("out_dir")
    embeddings = engine.encode(["a sentence", "another"])      # NumPy, no copy
    weights = aq.WeightLoader("out_dir")                       # NumPy views of the mapped file

The C++ library does the work (arrowquant._core); errors are arrowquant.errors' classes.
"""
import logging as _logging

import pyarrow as _pyarrow  # noqa: F401  (loads the libarrow/libparquet the extension links)

from . import _core
from .config import QuantConfig
from .diffusion import DiffusionPipeline, detect_modality, validate_diffusion
from .engine import ArrowEngine, validate
from .errors import (ArrowQuantError, CalibrationError, Cancelled, ConfigurationError, ModelFormatError,
                     ModelIOError, QuantizationError, ShapeMismatchError, ValidationError)
from .manager import ArrowQuantV2, AsyncArrowQuantV2, QuantizationManager, analyze, compare, inspect
from .weights import WeightLoader, load_sharded_safetensors

__version__ = _core.__version__


_logging.getLogger("arrowquant").addHandler(_logging.NullHandler())

__all__ = ["QuantConfig", "QuantizationManager", "ArrowQuantV2", "AsyncArrowQuantV2", "ArrowEngine",
           "DiffusionPipeline", "validate_diffusion", "detect_modality",
           "WeightLoader", "load_sharded_safetensors", "validate", "inspect", "analyze", "compare", "ArrowQuantError", "ConfigurationError",
           "ModelFormatError", "ShapeMismatchError", "ModelIOError", "CalibrationError", "QuantizationError",
           "ValidationError", "Cancelled"]
