"""Files written by ArrowQuant read correctly in pyarrow, DuckDB and Polars; V1 tables written by
pyarrow load in ArrowQuant. The numpy decoder below follows docs/FORMAT.md only, so it also checks
that the documentation describes what the code writes."""
import os
import subprocess
import sys

import duckdb
import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

from conftest import MINILM, ROOT, STORIES, read_safetensors, run

FORMATS = [(2, False), (3, False), (4, True), (8, False), (2, True), (3, True), (4, False), (8, True)]


def decode_row(row):
    """Dequantises one Parquet row following docs/FORMAT.md."""
    shape = row["shape"]
    cols = shape[-1]
    rows = row["num_params"] // cols
    qt = row["quant_type"]
    if qt == "none":
        return np.frombuffer(row["data"], dtype=np.dtype(row["dtype"]).newbyteorder("<")).reshape(rows, cols)
    bits = int(qt[3])
    sym = qt.endswith("_sym")
    gs = row["group_size"]
    groups = -(-cols // gs)
    row_bytes = -(-cols * bits // 8)
    packed = np.frombuffer(row["data"], dtype=np.uint8).reshape(rows, row_bytes)
    bitstream = np.unpackbits(packed, axis=1, bitorder="little")[:, : cols * bits].reshape(rows, cols, bits)
    codes = (bitstream.astype(np.uint32) << np.arange(bits, dtype=np.uint32)).sum(axis=2).astype(np.float32)
    scales = np.frombuffer(row["scales"], dtype="<f2").astype(np.float32).reshape(rows, groups)
    if sym:
        zeros = np.full((rows, groups), 2 ** (bits - 1), dtype=np.float32)
    else:
        zeros = np.frombuffer(row["zero_points"], dtype=np.uint8).astype(np.float32).reshape(rows, groups)
    col_group = np.arange(cols) // gs
    return scales[:, col_group] * (codes - zeros[:, col_group])


@pytest.fixture(scope="module")
def stories_models(tmp_path_factory):
    d = tmp_path_factory.mktemp("stories")
    out = {}
    for bits, sym in FORMATS:
        name = f"b{bits}{'s' if sym else 'a'}"
        flags = ["--bits", bits, "--group-size", 32, "--embedding-bits", bits] + (["--sym"] if sym else [])
        run("quantize", STORIES, "-o", d / name, "-q", *flags)
        run("dequantize", d / name, "-o", d / f"{name}.safetensors")
        out[name] = d
    return d


@pytest.mark.parametrize("bits,sym", FORMATS)
def test_pyarrow_reads_v2_and_numpy_decodes_it_exactly(stories_models, bits, sym):
    name = f"b{bits}{'s' if sym else 'a'}"
    path = stories_models / name / "model.parquet"
    table = pq.read_table(path)
    assert table.column_names[:9] == ["layer_name", "shape", "dtype", "data", "num_params", "quant_type",
                                      "group_size", "scales", "zero_points"]
    reference = read_safetensors(stories_models / f"{name}.safetensors")
    parts = {}
    for row in table.to_pylist():
        parts.setdefault(row["layer_name"], []).append((row["row_start"], decode_row(row), row["shape"]))
    assert set(parts) == set(reference)
    for tensor, chunks in parts.items():
        chunks.sort(key=lambda c: c[0])
        values = np.concatenate([c[1] for c in chunks]).reshape(chunks[0][2])
        np.testing.assert_array_equal(values.astype(np.float32), reference[tensor].astype(np.float32), err_msg=tensor)
    meta = pq.ParquetFile(path).metadata
    assert meta.metadata[b"arrowquant.format_version"] == b"2"
    # The data column is PLAIN and uncompressed in every row group: that is what makes it mappable.
    data_idx = table.column_names.index("data")
    for rg in range(meta.num_row_groups):
        col = meta.row_group(rg).column(data_idx)
        assert col.compression == "UNCOMPRESSED"
        assert "PLAIN" in col.encodings and not col.has_dictionary_page


@pytest.fixture(scope="module")
def minilm_int4(tmp_path_factory):
    d = tmp_path_factory.mktemp("minilm")
    run("quantize", MINILM, "-o", d / "int4", "-q", "--bits", 4, "--group-size", 64)
    return d / "int4" / "model.parquet"


def test_duckdb_reads_v2(minilm_int4):
    expected = pq.read_table(minilm_int4, columns=["layer_name", "quant_type", "num_params", "data", "checksum"])
    rows = duckdb.sql(
        f"SELECT layer_name, quant_type, num_params, octet_length(data) AS n, checksum "
        f"FROM read_parquet('{minilm_int4}')").fetchall()
    assert len(rows) == expected.num_rows == 104
    for (name, qt, n, nbytes, ck), exp in zip(rows, expected.to_pylist()):
        assert (name, qt, n, nbytes, ck) == (exp["layer_name"], exp["quant_type"], exp["num_params"],
                                             len(exp["data"]), exp["checksum"])
    q = duckdb.sql(f"SELECT count(*) FROM read_parquet('{minilm_int4}') WHERE quant_type = 'int4_asym'").fetchall()[0]
    assert q[0] == 37  # 36 encoder linears + pooler (embeddings are 8-bit)


def test_polars_reads_v2(minilm_int4):
    df = pl.read_parquet(minilm_int4)
    expected = pq.read_table(minilm_int4).to_pylist()
    assert df.height == len(expected)
    for got, exp in zip(df.iter_rows(named=True), expected):
        assert got["layer_name"] == exp["layer_name"]
        assert got["data"] == exp["data"]
        assert got["scales"] == exp["scales"]
        assert list(got["shape"]) == exp["shape"]
        assert got["cosine"] == exp["cosine"]


def test_v1_written_by_pyarrow_loads(tmp_path):
    v1 = tmp_path / "v1.parquet"
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_v1.py"), MINILM, v1], check=True)
    meta = pq.ParquetFile(v1).metadata
    assert meta.row_group(0).column(3).compression == "SNAPPY"  # pyarrow defaults, as promised
    out = run("inspect", v1, "--json")
    assert '"format_version": 1' in out
    run("dequantize", v1, "-o", tmp_path / "back.safetensors")
    back = read_safetensors(tmp_path / "back.safetensors")
    orig = read_safetensors(os.path.join(MINILM, "model.safetensors"))
    for name, arr in orig.items():
        if arr.dtype == np.float32:
            np.testing.assert_array_equal(back[name], arr.astype(np.float16).astype(np.float32), err_msg=name)
        else:
            np.testing.assert_array_equal(back[name], arr)
    # And a V1 table is a valid input to the quantiser.
    run("quantize", v1, "-o", tmp_path / "q", "-q", "--bits", 4)
    assert (tmp_path / "q" / "model.parquet").exists()
