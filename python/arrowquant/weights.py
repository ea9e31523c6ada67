"""Weights as NumPy views of their memory-mapped files: ArrowQuant's Parquet tables (WeightLoader) and
safetensors models (load_sharded_safetensors). No tensor is copied until you ask for float values."""
from __future__ import annotations

import json
import os
from typing import Any, Iterator

import numpy as np

from . import _core

# Our dtype names -> NumPy (bfloat16 and the FP8 types have none: their bytes come as uint16 / uint8).
_NUMPY = {"float32": np.float32, "float16": np.float16, "bfloat16": np.uint16, "float64": np.float64,
          "int8": np.int8, "uint8": np.uint8, "int16": np.int16, "int32": np.int32, "int64": np.int64,
          "bool": np.bool_, "float8_e4m3fn": np.uint8, "float8_e5m2": np.uint8}


def _view(raw: np.ndarray, dtype: str, shape: list[int]) -> np.ndarray:
    return raw.view(_NUMPY[dtype]).reshape(shape)


class WeightLoader:
    """An ArrowQuant weights table (a model folder or a .parquet file), memory-mapped.

    tensor(name)      float tensors: a read-only view of the file in their stored dtype
    packed(name)      quantised tensors: per chunk, codes / float16 scales / zero points, views of the file
    dequantize(name)  float32 values of any tensor (computed, checksums verified)
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self._w = _core.WeightLoader(os.fspath(path))

    @property
    def path(self) -> str:
        return self._w.path

    @property
    def format_version(self) -> int:
        return self._w.format_version

    @property
    def metadata(self) -> dict[str, Any]:
        return json.loads(self._w.metadata_json)

    @property
    def config(self) -> dict[str, Any]:
        return json.loads(self._w.config_json)

    def names(self) -> list[str]:
        return self._w.names()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __contains__(self, name: str) -> bool:
        return name in self.names()

    def info(self, name: str) -> dict[str, Any]:
        return self._w.info(name)

    def tensor(self, name: str) -> np.ndarray:
        """An unquantised tensor as a read-only view of the mapped file (bfloat16 as uint16 bits)."""
        i = self.info(name)
        return _view(self._w.raw(name), i["dtype"], i["shape"])

    def packed(self, name: str) -> list[dict[str, Any]]:
        """A quantised tensor's chunks: {"row_start", "rows", "codes" [rows, bytes per row] uint8,
        "scales" [rows, groups] float16, "zero_points" [rows, groups] uint8 or None}, all views."""
        i = self.info(name)
        cols = i["shape"][-1]
        group = i["group_size"] or cols
        groups = -(-cols // group)
        out = []
        for c in self._w.packed(name):
            rows = c["rows"]
            c["codes"] = c["codes"].reshape(rows, -1)
            c["scales"] = c["scales"].view(np.float16).reshape(rows, groups)
            if c["zero_points"] is not None:
                c["zero_points"] = c["zero_points"].reshape(rows, groups)
            out.append(c)
        return out

    def dequantize(self, name: str) -> np.ndarray:
        return self._w.dequantize(name)

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        """The weights table through the Arrow PyCapsule interface — pyarrow.table(loader),
        polars.DataFrame(loader), duckdb.sql("... FROM loader") — one row per stored chunk: layer_name,
        shape, dtype, quant_type, group_size, chunk_index, row_start, rows, and data / scales / zero_points
        as binary_view columns pointing into the loader's memory (the memory map for V2 data): no tensor
        byte is copied. requested_schema is not supported (None only)."""
        if requested_schema is not None:
            raise NotImplementedError("WeightLoader exports its own schema only")
        return self._w.arrow_stream()

    def maps(self, array: np.ndarray) -> bool:
        """Whether an array's memory lies inside this file's memory map (the zero-copy promise)."""
        return self._w.maps(array.__array_interface__["data"][0], array.nbytes)

    def __repr__(self) -> str:
        return f"WeightLoader({self.path!r}, {len(self)} tensors, V{self.format_version})"


class _Shards(dict):
    """load_sharded_safetensors' result: the views, and the mapped files they point into."""
    files: list


def load_sharded_safetensors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every tensor of a safetensors model — one file, or a folder with model.safetensors.index.json
    and its shards — as read-only NumPy views of the mapped files (bfloat16 as uint16 bits)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        index = os.path.join(path, "model.safetensors.index.json")
        if os.path.isfile(index):
            with open(index, encoding="utf-8") as f:
                shards = sorted(set(json.load(f).get("weight_map", {}).values()))
            files = [os.path.join(path, s) for s in shards]
        else:
            files = sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".safetensors"))
    else:
        files = [path]
    if not files:
        from .errors import ModelIOError
        raise ModelIOError(f"{path}: no safetensors files")
    out = _Shards()
    out.files = []
    for f in files:
        st = _core.SafetensorsFile(f)
        out.files.append(st)
        for name, dtype, shape, raw in st.tensors():
            out[name] = _view(raw, dtype, list(shape))
    return out
