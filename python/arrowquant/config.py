"""QuantConfig: every setting of `arrowquant quantize`, from keyword arguments, a profile, a YAML file and
ARROW_QUANT_* environment variables, with the command line's precedence:

    built-in defaults < profile < YAML file < ARROW_QUANT_* environment < keyword arguments

The settings are declared once, in C++ (QuantConfig::visit): the same keys, ranges and checks as the
flags (`--group-size` is group_size=...) and the YAML keys. Values may be given as Python values
(bits=3, symmetric=True, group_size=0 or "channel", pins=["*.down_proj.*=8"]) or as the text the
command line takes.
"""
from __future__ import annotations

import json
import os
from typing import Any, Iterable, Mapping

from . import _core


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _pairs(settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    out = []
    for key, value in settings.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)) and not isinstance(value, str):  # repeatable: pins
            key = "pin" if key == "pins" else key
            out.extend((key, _text(v)) for v in value)
        else:
            out.append((key, _text(value)))
    return out


class QuantConfig:
    """The settings of a quantisation run.

    QuantConfig(bits=4, group_size=128, method="gptq", calibration="calib.txt")
    QuantConfig.from_profile("edge", bits=3)
    QuantConfig.from_yaml("config.yaml", threads=2)

    `env=False` ignores the ARROW_QUANT_* variables. Unknown keys and bad values raise
    ConfigurationError naming the setting.
    """

    def __init__(self, *, profile: str | None = None, yaml: str | os.PathLike | None = None, env: bool = True,
                 modality: str = "text", **settings: Any) -> None:
        pairs = _pairs(settings)
        if profile is not None:
            pairs.insert(0, ("profile", profile))
        self._yaml = os.fspath(yaml) if yaml is not None else ""
        self._env = env
        self._pairs = pairs
        self._modality = modality
        self._core = self._resolve()

    def _resolve(self):
        return _core.resolve_config(self._yaml, _core.environment_settings() if self._env else {}, self._pairs,
                                    self._modality)

    @classmethod
    def from_profile(cls, name: str, *, modality: str = "text", **settings: Any) -> "QuantConfig":
        """A profile (edge, local, cloud) with settings on top. modality="diffusion" gives an image
        diffusion model's values (the ArrowQuant V2 seed's: time groups, min_accuracy, trajectory
        calibration); arrowquant.detect_modality(path) tells which a model folder is."""
        return cls(profile=name, modality=modality, **settings)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike, **settings: Any) -> "QuantConfig":
        """A YAML file of settings (the `--config` of the command line), keyword arguments on top."""
        return cls(yaml=path, **settings)

    @staticmethod
    def profiles() -> list[str]:
        return list(_core.profile_names())

    @staticmethod
    def help() -> dict[str, str]:
        """Every setting's key and what it does."""
        return dict(_core.setting_help())

    def replace(self, **settings: Any) -> "QuantConfig":
        """A copy with more settings on top."""
        new = QuantConfig.__new__(QuantConfig)
        new._yaml, new._env, new._modality = self._yaml, self._env, self._modality
        new._pairs = self._pairs + _pairs(settings)
        new._core = new._resolve()
        return new

    def to_dict(self) -> dict[str, Any]:
        """Every setting, key -> value (enums by name)."""
        return json.loads(self._core.settings_json())

    def recorded(self) -> dict[str, Any]:
        """The settings a run records in its report (those that can change the result)."""
        return json.loads(self._core.recorded_json())

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        settings = self.to_dict()
        if key not in settings:
            raise AttributeError(f"QuantConfig has no setting {key!r}")
        return settings[key]

    def __repr__(self) -> str:
        changed = ", ".join(f"{k}={v!r}" for k, v in self._pairs)
        return f"QuantConfig({changed})"

    def __iter__(self) -> Iterable[str]:
        return iter(self.to_dict())


def config_with(config: QuantConfig | None, **settings: Any) -> QuantConfig:
    """`config` with `settings` on top; a new QuantConfig of the settings when there is none."""
    if config is None:
        return QuantConfig(**settings)
    return config.replace(**settings) if settings else config
