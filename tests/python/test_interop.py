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

# (bits, grid): False affine, True symmetric, "half" the half-offset symmetric grid, "nf" / "gauss"
# the codebooks.
FORMATS = [(2, False), (3, False), (4, True), (8, False), (2, True), (3, True), (4, False), (8, True),
           (2, "half"), (3, "half"), (4, "half"), (5, False), (6, False), (5, True), (6, "half"),
           (4, "nf"), (2, "gauss"), (3, "gauss"), (4, "gauss"), (2, "lattice"), (8, "e4m3"), (8, "e5m2")]
GRID_LETTER = {False: "a", True: "s", "half": "h", "nf": "n", "gauss": "g", "lattice": "l", "e4m3": "f", "e5m2": "e"}
GRID_FLAGS = {False: [], True: ["--sym"], "half": ["--half"], "nf": ["--codebook", "nf"],
              "gauss": ["--codebook", "gauss"], "lattice": ["--codebook", "lattice"],
              "e4m3": ["--codebook", "e4m3"], "e5m2": ["--codebook", "e5m2"]}
# The codebooks' signed integer levels, as docs/FORMAT.md lists them.
CODEBOOKS = {
    "nf4": [-127, -88, -67, -50, -36, -23, -12, 0, 10, 20, 31, 43, 56, 71, 92, 127],
    "gauss2": [-127, -38, 38, 127],
    "gauss3": [-127, -79, -45, -14, 14, 45, 79, 127],
    "gauss4": [-127, -96, -75, -58, -44, -31, -18, -6, 6, 18, 31, 44, 58, 75, 96, 127],
}


def lattice_patterns():
    """The 256 absolute-value vectors of lattice2, as docs/FORMAT.md lists them."""
    import itertools
    every = sorted(itertools.product([0.5, 1.5, 2.5], repeat=8), key=lambda a: (sum(x * x for x in a), a))
    return np.asarray(every[:256])


def decode_lattice(packed, rows, cols):
    """Integer levels of a lattice8_v1 row set: 16-bit codes, 8 columns each (docs/FORMAT.md)."""
    codes = packed.view("<u2").reshape(rows, cols // 8).astype(np.int64)
    a = lattice_patterns()[codes & 0xFF]                          # rows × vectors × 8
    neg = (codes[..., None] >> (8 + np.arange(7))) & 1            # signs of entries 0..6
    partial = (a[..., :7] * np.where(neg, -1.0, 1.0)).sum(-1)
    # s_7 makes Σ s_i a_i even: partial + a_7 or partial − a_7, whichever is an even integer.
    s7 = np.where(np.mod(partial + a[..., 7], 2) == 0, 1.0, -1.0)
    signs = np.concatenate([np.where(neg, -1.0, 1.0), s7[..., None]], axis=-1)
    delta = np.where((codes >> 15) & 1, -0.25, 0.25)[..., None]
    return (4 * (signs * a + delta)).reshape(rows, cols)


def fp8_values(qt):
    """The 256 values of an OCP fp8 byte, as docs/FORMAT.md spells them."""
    m_bits, bias = (3, 7) if qt == "fp8_e4m3" else (2, 15)
    c = np.arange(256)
    sign = np.where(c & 0x80, -1.0, 1.0)
    e, m = (c & 0x7F) >> m_bits, c & ((1 << m_bits) - 1)
    v = np.where(e == 0, 2.0 ** (1 - bias) * m / 2 ** m_bits, 2.0 ** (e - bias) * (1 + m / 2 ** m_bits))
    if qt == "fp8_e4m3":
        v = np.where((c & 0x7F) == 0x7F, np.nan, v)
    else:
        v = np.where(e == 31, np.where(m == 0, np.inf, np.nan), v)
    return (sign * v).astype(np.float32)


def decode_row(row):
    """Dequantises one Parquet row following docs/FORMAT.md."""
    shape = row["shape"]
    cols = shape[-1]
    rows = row["num_params"] // cols
    qt = row["quant_type"]
    if qt == "none":
        return np.frombuffer(row["data"], dtype=np.dtype(row["dtype"]).newbyteorder("<")).reshape(rows, cols)
    if qt == "lattice2":
        assert row["packing"] == "lattice8_v1"
        gs = row["group_size"]
        scales = np.frombuffer(row["scales"], dtype="<f2").astype(np.float32).reshape(rows, -(-cols // gs))
        levels = decode_lattice(np.frombuffer(row["data"], dtype=np.uint8).copy(), rows, cols).astype(np.float32)
        return scales[:, np.arange(cols) // gs] * levels
    bits = 8 if qt.startswith("fp8_") else int(qt[-1]) if qt in CODEBOOKS else int(qt[3])
    sym = qt.endswith("_sym") or qt.endswith("_half")
    gs = row["group_size"]
    groups = -(-cols // gs)
    row_bytes = -(-cols * bits // 8)
    packed = np.frombuffer(row["data"], dtype=np.uint8).reshape(rows, row_bytes)
    bitstream = np.unpackbits(packed, axis=1, bitorder="little")[:, : cols * bits].reshape(rows, cols, bits)
    codes = (bitstream.astype(np.uint32) << np.arange(bits, dtype=np.uint32)).sum(axis=2).astype(np.float32)
    scales = np.frombuffer(row["scales"], dtype="<f2").astype(np.float32).reshape(rows, groups)
    if qt in CODEBOOKS or qt.startswith("fp8_"):
        table = fp8_values(qt) if qt.startswith("fp8_") else np.asarray(CODEBOOKS[qt], dtype=np.float32)
        codes = table[codes.astype(np.int64)]
        zeros = np.zeros((rows, groups), dtype=np.float32)
    elif sym:
        centre = 2 ** (bits - 1) - (0.5 if qt.endswith("_half") else 0.0)
        zeros = np.full((rows, groups), centre, dtype=np.float32)
    else:
        zeros = np.frombuffer(row["zero_points"], dtype=np.uint8).astype(np.float32).reshape(rows, groups)
    col_group = np.arange(cols) // gs
    return scales[:, col_group] * (codes - zeros[:, col_group])


@pytest.fixture(scope="module")
def stories_models(tmp_path_factory):
    d = tmp_path_factory.mktemp("stories")
    out = {}
    for bits, sym in FORMATS:
        name = f"b{bits}{GRID_LETTER[sym]}"
        flags = ["--bits", bits, "--group-size", 32, "--embedding-bits", bits] + GRID_FLAGS[sym]
        run("quantize", STORIES, "-o", d / name, "-q", *flags)
        run("dequantize", d / name, "-o", d / f"{name}.safetensors")
        out[name] = d
    return d


@pytest.mark.parametrize("bits,sym", FORMATS)
def test_pyarrow_reads_v2_and_numpy_decodes_it_exactly(stories_models, bits, sym):
    name = f"b{bits}{GRID_LETTER[sym]}"
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


def rotation_signs(seed, n):
    """The random signs of a rotation, splitmix64 as docs/FORMAT.md spells it."""
    mask = (1 << 64) - 1
    state, signs = seed, np.empty(n)
    for i in range(n):
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        z ^= z >> 31
        signs[i] = -1.0 if z >> 63 else 1.0
    return signs


def hadamard(b):
    """H_b = H_(2^k) (x) H_12^(x j) for b = 2^k 12^j, j <= 2 (docs/FORMAT.md)."""
    residues = {1, 3, 4, 5, 9}
    s = np.zeros((12, 12))
    s[0, 1:], s[1:, 0] = 1, -1
    for i in range(1, 12):
        for j in range(1, 12):
            d = (j - i) % 11
            s[i, j] = 0 if d == 0 else (1 if d in residues else -1)
    twelves = 0
    while b % 12 == 0 and twelves < 2:
        b //= 12
        twelves += 1
    walsh = np.ones((1, 1))
    while walsh.shape[0] < b:
        walsh = np.block([[walsh, walsh], [walsh, -walsh]])
    paley = np.ones((1, 1))
    for _ in range(twelves):
        paley = np.kron(paley, np.eye(12) + s)
    return np.kron(walsh, paley)


def unrotate(values, row):
    """Stored W' back to the model's W = W'·R, R = blockdiag(H_b / sqrt(b))·diag(s)."""
    if row["rotation"] == "none":
        return values
    assert row["rotation"] == "hadamard"
    cols, b = values.shape[1], row["rotation_block"]
    r = np.kron(np.eye(cols // b), hadamard(b) / np.sqrt(b)) * rotation_signs(row["rotation_seed"], cols)[None, :]
    return values.astype(np.float64) @ r


def test_numpy_undoes_a_hadamard_rotation_from_the_format_page(tmp_path):
    # MiniLM's widths (384 = 12·32, 1536 = 12·128) take Paley's factor as well as Walsh–Hadamard's.
    run("quantize", MINILM, "-o", tmp_path / "rot", "-q", "--bits", 4, "--group-size", 32, "--rotation", "hadamard")
    run("dequantize", tmp_path / "rot", "-o", tmp_path / "rot.safetensors")
    reference = read_safetensors(tmp_path / "rot.safetensors")
    rotated = 0
    for row in pq.read_table(tmp_path / "rot" / "model.parquet").to_pylist():
        if row["quant_type"] == "none" or row["num_chunks"] != 1:
            continue
        values = unrotate(decode_row(row), row)
        rotated += row["rotation"] != "none"
        want = reference[row["layer_name"]].astype(np.float64).reshape(values.shape)
        np.testing.assert_allclose(values, want, rtol=0, atol=1e-5 * np.abs(want).max(), err_msg=row["layer_name"])
    assert rotated >= 36  # the six Linears of each of MiniLM's six layers


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
