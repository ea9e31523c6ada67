"""Quantisation from Python: the sageLLM seed's QuantizationManager and the ArrowQuant V2 seed's
ArrowQuantV2 / AsyncArrowQuantV2, both over the C++ QuantizationManager (the GIL released while it
runs; progress and log lines handed back to Python; cancelling leaves nothing on disk)."""
from __future__ import annotations

import asyncio
import json
import os
import tempfile
import threading
from typing import Any, Callable, Sequence

from . import _core
from .config import QuantConfig, config_with
from .engine import _cancellable
from .errors import CalibrationError
from .weights import WeightLoader

Progress = Callable[[float, str], Any]


class QuantizationManager:
    """QuantizationManager(config).quantize(model, out, calibration=..., progress=cb) -> report dict.

    progress(fraction, message) is called with the GIL held, at most ten times a second and once at the
    end; returning False cancels the run (Cancelled is raised, nothing is left on disk). Ctrl-C does
    the same and raises KeyboardInterrupt. Log lines go to the "arrowquant" logger.
    """

    def __init__(self, config: QuantConfig | None = None, **settings: Any) -> None:
        self.config = config_with(config, **settings)
        self._last_report: dict[str, Any] | None = None

    def calibrate(self, model_path: str | os.PathLike, dataset_path: str | os.PathLike) -> dict[str, Any]:
        """Checks a calibration file (.txt: one document per line; .jsonl: a "text" field per line)
        and makes it this manager's calibration text. Returns {"documents", "characters"}.
        CalibrationError when it is missing, empty or malformed."""
        dataset_path = os.fspath(dataset_path)
        if not os.path.isfile(dataset_path):
            raise CalibrationError(f"{dataset_path}: no such calibration file")
        if not os.path.exists(os.fspath(model_path)):
            raise CalibrationError(f"{model_path}: no such model to calibrate")
        docs = _core.calibration_documents(dataset_path)
        self.config = self.config.replace(calibration=dataset_path)
        return {"documents": len(docs), "characters": sum(len(d) for d in docs)}

    def quantize(self, model: str | os.PathLike, output: str | os.PathLike, *, calibration: str | None = None,
                 progress: Progress | None = None, overwrite: bool = False, resume: bool = False,
                 cancel: threading.Event | None = None) -> dict[str, Any]:
        """Quantises model into the folder output (built under a temporary name, renamed when whole)."""
        config = self.config.replace(calibration=calibration) if calibration else self.config
        if cancel is not None:
            user = progress

            def progress(fraction: float, message: str) -> bool:  # noqa: F811 - wraps the caller's
                if cancel.is_set():
                    return False
                return user is None or user(fraction, message) is not False

        report = json.loads(_core.quantize(config._core, os.fspath(model), os.fspath(output), overwrite, resume,
                                           progress))
        self._last_report = report
        return report

    def load_quantized(self, path: str | os.PathLike) -> WeightLoader:
        return WeightLoader(path)

    def select_kernel(self, path: str | os.PathLike | None = None) -> dict[str, Any]:
        """The kernels this CPU runs (run-time dispatch) and, for a model, the packed formats it holds."""
        info: dict[str, Any] = {"cpu_targets": _core.cpu_targets()}
        if path is not None:
            w = WeightLoader(path)
            info["formats"] = sorted({w.info(n)["format"] for n in w.names() if w.info(n)["quantized"]})
        return info

    def report(self, path: str | os.PathLike | None = None) -> dict[str, Any]:
        """The report of the last quantize() call, or of an existing quantised model (`inspect`)."""
        if path is not None:
            return inspect(path)
        if self._last_report is None:
            raise ValueError("no quantize() call yet: give the path of a quantised model")
        return self._last_report


def _seed_result(report: dict[str, Any]) -> dict[str, Any]:
    """The seed's result dict, from our report: compression_ratio (against FP16), cosine_similarity (the
    parameter-weighted mean over quantised tensors), model_size_mb, and the report itself."""
    tensors = report.get("tensors", [])
    quantised = [t for t in tensors if t.get("cosine", -1) >= 0]
    weights = sum(t.get("num_params", 0) for t in quantised)
    cosine = (sum(t["cosine"] * t.get("num_params", 0) for t in quantised) / weights) if weights else 1.0
    size = report.get("file_bytes", 0)
    return {"compression_ratio": report.get("compression_vs_fp16", 0.0), "cosine_similarity": cosine,
            "model_size_mb": size / 1e6, "output": report.get("output"), "seconds": report.get("seconds"),
            "report": report}


class ArrowQuantV2:
    """The ArrowQuant V2 seed's entry point: ArrowQuantV2(mode="edge").quantize_model(model, out, ...)."""

    def __init__(self, mode: str = "local", **settings: Any) -> None:
        self.mode = mode
        self._settings = settings
        self.config = QuantConfig.from_profile(mode, **settings)

    def quantize_model(self, model_path: str | os.PathLike, output_path: str | os.PathLike, *,
                       config: QuantConfig | None = None, calibration: str | None = None,
                       progress_callback: Progress | None = None, overwrite: bool = False,
                       cancel: threading.Event | None = None, **settings: Any) -> dict[str, Any]:
        if calibration is not None:  # resolved with the other settings: a calibrated method checks for it
            settings["calibration"] = calibration
        cfg = config_with(config or self.config, **settings)
        report = QuantizationManager(cfg).quantize(model_path, output_path, progress=progress_callback,
                                                   overwrite=overwrite, cancel=cancel)
        return _seed_result(report)

    def quantize_diffusion_model(self, model_path: str | os.PathLike, output_path: str | os.PathLike, *,
                                 config: QuantConfig | None = None, classifier: str | os.PathLike | None = None,
                                 samples: int = 200, steps: int = 25, progress_callback: Progress | None = None,
                                 overwrite: bool = False, cancel: threading.Event | None = None,
                                 **settings: Any) -> dict[str, Any]:
        """Quantises a diffusion pipeline folder (diffusers DiT) and, with a classifier, scores the result
        against the original (validate_diffusion): the seed's result dict plus "diffusion" (Fréchet
        distance, class accuracy, per-timestep noise error). Calibrated methods (gptq, awq, smoothquant)
        take calibration="trajectory": states along the model's own guided denoising runs; time_groups=N
        stores static int8 activation clips per group of timesteps, and the score then runs with them
        (DiffusionPipeline(static_activations=True)). Without a config, the mode's profile gives an image
        diffusion model's values (QuantConfig.from_profile(mode, modality="diffusion")): trajectory
        calibration, time groups 5/10/20 and min_accuracy 0.65/0.85/0.95 for edge/local/cloud."""
        from .diffusion import DiffusionPipeline, detect_modality, validate_diffusion
        if config is None:
            config = QuantConfig.from_profile(self.mode, modality=detect_modality(model_path), **self._settings)
        result = self.quantize_model(model_path, output_path, config=config, progress_callback=progress_callback,
                                     overwrite=overwrite, cancel=cancel, **settings)
        if classifier is not None:
            static = result["report"]["config"].get("calibration", {}).get("time_groups", 0) > 0
            model = DiffusionPipeline(output_path, static_activations=static)
            result["diffusion"] = validate_diffusion(model_path, model, classifier, samples=samples, steps=steps)
        return result


class AsyncArrowQuantV2:
    """ArrowQuantV2 for asyncio: each job runs on a worker thread (the GIL released in C++, so several
    jobs run side by side); cancelling the awaiting task stops its job at the next tensor and leaves
    nothing on disk (Cancelled)."""

    def __init__(self, mode: str = "local", **settings: Any) -> None:
        self._sync = ArrowQuantV2(mode, **settings)

    async def quantize_model(self, model_path: str | os.PathLike, output_path: str | os.PathLike,
                             **kwargs: Any) -> dict[str, Any]:
        cancel = threading.Event()
        user = kwargs.pop("progress_callback", None)
        if user is not None and asyncio.iscoroutinefunction(user):
            raise TypeError("progress_callback must be a plain function (it runs on the worker thread)")
        # The worker stops at its next progress call and cleans up (Cancelled, swallowed on cancellation).
        return await _cancellable(lambda: self._sync.quantize_model(
            model_path, output_path, progress_callback=user, cancel=cancel, **kwargs), cancel)


def inspect(path: str | os.PathLike) -> dict[str, Any]:
    """`arrowquant inspect --json` of a quantised model: one entry per tensor (format, shape, bits per
    weight, bytes, error) and the totals."""
    return json.loads(_core.report(os.fspath(path)))


def analyze(model: str | os.PathLike, config: QuantConfig | None = None, *, widths: Sequence[int] = (2, 3, 4, 8),
            **settings: Any) -> dict[str, Any]:
    """`arrowquant analyze` as a dict: every tensor the config would quantise, its weight error at each
    width (and its output error when the config has calibration text)."""
    config = config_with(config, **settings)
    return json.loads(_core.analyze(os.fspath(model), config._core, [int(w) for w in widths]))


def compare(model: str | os.PathLike, *, methods: Sequence[str] = ("rtn", "gptq", "awq"),
            widths: Sequence[int] = (2, 3, 4, 8), config: QuantConfig | None = None, sentences: Sequence[str] = (),
            text: str | None = None, ctx: int = 256, chunks: int = 0, workdir: str | None = None) -> dict[str, Any]:
    """`arrowquant compare` as a dict: each method at each width quantised and measured in one run (size,
    compression, time; embedding cosine on `sentences` for encoders, perplexity / KL / top-1 on `text` —
    a string or a file — for decoders). Calibrated methods need the config's calibration text."""
    config = config or QuantConfig()
    if text and os.path.isfile(text):
        with open(text, encoding="utf-8") as f:
            text = f.read()
    with tempfile.TemporaryDirectory(prefix="aq-compare-") as tmp:
        return json.loads(_core.compare(os.fspath(model), config._core, list(methods), [int(w) for w in widths],
                                        workdir or tmp, list(sentences), text or "", ctx, chunks))
