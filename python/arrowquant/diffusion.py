"""Diffusion models: DiffusionPipeline (sampling, noise prediction) and validate_diffusion (the Fréchet
distance / class accuracy / per-timestep noise error report of `arrowquant validate`)."""
from __future__ import annotations

import json
import os
from typing import Any, Callable, Optional, Sequence

import numpy as np

from . import _core

Progress = Callable[[float, str], Any]


class DiffusionPipeline:
    """A class-conditional image diffusion model (a diffusers DiT pipeline folder, or an ArrowQuant
    folder quantised from one) on the C++ runtime.

        pipe = DiffusionPipeline("tests/goldens/diffusion/fashion_dit")
        images = pipe.sample([3] * 16, steps=50, seed=1)     # [16, 1, 28, 28] float32 in [-1, 1]

    static_activations=True rounds each block Linear's input to the static int8 clip the file stores
    for the timestep's group (a model quantised with time_groups=N; the CLI's --static-activations).
    """

    def __init__(self, path: str | os.PathLike, *, weights: str = "auto", activations: str = "auto",
                 kernel_fallback: str = "auto", threads: int = 0, static_activations: bool = False) -> None:
        self.path = os.fspath(path)
        self._d = _core.Diffusion(self.path, weights, activations, kernel_fallback, threads, static_activations)

    @property
    def num_classes(self) -> int:
        return self._d.num_classes

    @property
    def class_names(self) -> list[str]:
        return self._d.class_names

    @property
    def image_size(self) -> int:
        return self._d.image_size

    def sample(self, labels: Sequence[int], *, steps: int = 50, sampler: str = "ddim", guidance: float = 2.0,
               seed: int = 1, batch_size: int = 64, progress: Optional[Progress] = None) -> np.ndarray:
        """Images [len(labels), C, H, W] (label num_classes = unconditional); progress(fraction, message)
        returning False cancels (Cancelled)."""
        return self._d.sample(list(labels), steps, sampler, guidance, seed, batch_size, progress)

    def predict_noise(self, x: np.ndarray, timesteps: Sequence[float], labels: Sequence[int]) -> np.ndarray:
        return self._d.predict_noise(np.ascontiguousarray(x, dtype=np.float32), list(map(float, timesteps)),
                                     list(labels))


def validate_diffusion(reference: DiffusionPipeline | str | os.PathLike, model: DiffusionPipeline | str | os.PathLike,
                       classifier: str | os.PathLike, *, samples: int = 500, steps: int = 50, sampler: str = "ddim",
                       guidance: float = 2.0, seed: int = 1, trajectory_images: int = 32, png: str = "",
                       progress: Optional[Progress] = None) -> dict[str, Any]:
    """`arrowquant validate ORIGINAL QUANTIZED` for diffusion models, as a dict."""
    ref = reference if isinstance(reference, DiffusionPipeline) else DiffusionPipeline(reference)
    mod = model if isinstance(model, DiffusionPipeline) else DiffusionPipeline(model)
    return json.loads(_core.validate_diffusion(ref._d, mod._d, os.fspath(classifier), samples, steps, sampler,
                                               guidance, seed, trajectory_images, png, progress))


def detect_modality(path: str | os.PathLike) -> str:
    """"diffusion" for a diffusers DiT pipeline or transformer folder, "text" otherwise (the profiles'
    values differ by it: QuantConfig.from_profile(name, modality=...)). Raises ModelFormatError naming
    the kind for diffusion models not supported yet (UNet or audio pipelines, LLaDA/Dream text diffusion)."""
    return _core.detect_modality(os.fspath(path))
