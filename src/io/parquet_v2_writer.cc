#include "io/parquet_v2_writer.h"

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <parquet/arrow/writer.h>
#include <parquet/properties.h>

#include <algorithm>

#include "arrowquant/error.h"
#include "format/pack.h"
#include "io/parquet_v2_schema.h"
#include "util/checksum.h"
#include "util/version.h"

namespace arrowquant {

namespace {

template <typename T>
T check(arrow::Result<T> r, const std::string& what) {
  if (!r.ok()) throw IoError(what + ": " + r.status().ToString());
  return std::move(r).ValueUnsafe();
}
void check(const arrow::Status& s, const std::string& what) {
  if (!s.ok()) throw IoError(what + ": " + s.ToString());
}

struct RowValues {
  std::string name;
  Shape shape;
  std::string dtype;
  const uint8_t* data;
  size_t nbytes;
  int64_t num_params;
  std::string quant_type;
  int32_t group_size;
  const uint8_t* scales;
  size_t scales_nbytes;
  const uint8_t* zps;
  size_t zps_nbytes;
  std::string packing;
  int32_t chunk_index, num_chunks;
  int64_t row_start;
  RowStats stats;
  InputRotation rotation;
};

}  // namespace

struct ParquetV2Writer::Impl {
  std::string path;
  int64_t chunk_bytes;
  std::shared_ptr<arrow::Schema> schema = parquet_v2::v2_schema();
  std::shared_ptr<arrow::io::FileOutputStream> out;
  std::unique_ptr<parquet::arrow::FileWriter> writer;
  int64_t rows = 0;
  bool closed = false;
  bool rotated = false;  // any tensor stored rotated: the file needs format version 3

  void write_row(const RowValues& v) {
    using namespace arrow;
    auto* pool = default_memory_pool();
    auto str = [&](const std::string& s) {
      StringBuilder b(pool);
      check(b.Append(s), "build");
      return check(b.Finish(), "build");
    };
    auto bin = [&](const uint8_t* p, size_t n) {
      BinaryBuilder b(pool);
      check(b.Append(p, int64_t(n)), "build");
      return check(b.Finish(), "build");
    };
    auto i32 = [&](int32_t x) { Int32Builder b(pool); check(b.Append(x), "build"); return check(b.Finish(), "build"); };
    auto i64 = [&](int64_t x) { Int64Builder b(pool); check(b.Append(x), "build"); return check(b.Finish(), "build"); };
    auto u64 = [&](uint64_t x) { UInt64Builder b(pool); check(b.Append(x), "build"); return check(b.Finish(), "build"); };
    auto f64 = [&](bool valid, double x) {
      DoubleBuilder b(pool);
      check(valid ? b.Append(x) : b.AppendNull(), "build");
      return check(b.Finish(), "build");
    };
    ListBuilder shape_b(pool, std::make_shared<Int32Builder>(pool));
    auto* dims = static_cast<Int32Builder*>(shape_b.value_builder());
    check(shape_b.Append(), "build");
    for (int64_t d : v.shape) {
      if (d > INT32_MAX) throw ValueError("tensor " + v.name + ": dimension too large for the shape column");
      check(dims->Append(int32_t(d)), "build");
    }
    UInt64Builder ck(pool);
    check(ck.Append(checksum_bytes(v.data, v.nbytes, v.scales, v.scales_nbytes, v.zps, v.zps_nbytes)), "build");
    std::vector<std::shared_ptr<Array>> cols = {
        str(v.name), check(shape_b.Finish(), "build"), str(v.dtype), bin(v.data, v.nbytes),
        i64(v.num_params), str(v.quant_type), i32(v.group_size), bin(v.scales, v.scales_nbytes),
        bin(v.zps, v.zps_nbytes), str(v.packing), i32(v.chunk_index), i32(v.num_chunks),
        i64(v.row_start), check(ck.Finish(), "build"),
        f64(v.stats.has_error, v.stats.rel_rmse), f64(v.stats.has_error, v.stats.cosine),
        str(std::string(rotation_kind_name(v.rotation.kind))), i32(int32_t(v.rotation.block)), u64(v.rotation.seed)};
    auto table = Table::Make(schema, cols, 1);
    check(writer->WriteTable(*table, 1), "writing " + path);
    ++rows;
  }

  // Splits a tensor of `rows` rows of `row_bytes` into runs that fit chunk_bytes.
  std::vector<std::pair<int64_t, int64_t>> split(int64_t nrows, size_t row_bytes) const {
    int64_t per = row_bytes ? std::max<int64_t>(1, chunk_bytes / int64_t(row_bytes)) : nrows;
    if (per <= 0) per = 1;
    std::vector<std::pair<int64_t, int64_t>> runs;
    for (int64_t r = 0; r < nrows; r += per) runs.push_back({r, std::min(nrows, r + per)});
    if (runs.empty()) runs.push_back({0, 0});
    return runs;
  }
};

ParquetV2Writer::ParquetV2Writer(const std::string& path, int64_t chunk_bytes) : impl_(std::make_unique<Impl>()) {
  if (chunk_bytes <= 0 || chunk_bytes > (int64_t(1) << 31) - 1024)
    throw ValueError("chunk size must be between 1 byte and 2 GiB (a Parquet value's limit)");
  impl_->path = path;
  impl_->chunk_bytes = chunk_bytes;
  impl_->out = check(arrow::io::FileOutputStream::Open(path), "cannot create " + path);
  parquet::WriterProperties::Builder b;
  b.disable_dictionary()
      ->compression(parquet::Compression::UNCOMPRESSED)
      ->disable_statistics()
      ->data_page_version(parquet::ParquetDataPageVersion::V1)
      ->encoding(parquet::Encoding::PLAIN)
      ->max_row_group_length(1)
      ->data_pagesize(int64_t(1) << 30);
  impl_->writer = check(parquet::arrow::FileWriter::Open(*impl_->schema, arrow::default_memory_pool(),
                                                         impl_->out, b.build(),
                                                         parquet::default_arrow_writer_properties()),
                        "cannot open a Parquet writer on " + path);
}

ParquetV2Writer::~ParquetV2Writer() {
  if (!impl_->closed && impl_->out) (void)impl_->out->Close();
}

int64_t ParquetV2Writer::rows_written() const { return impl_->rows; }

int ParquetV2Writer::format_version() const {
  if (residual_) return parquet_v2::kFormatVersion;
  return impl_->rotated ? parquet_v2::kFormatVersionRotated : parquet_v2::kFormatVersionUnrotated;
}

void ParquetV2Writer::write_quantized(const QuantizedTensor& q, DType source_dtype, const RowStats& stats) {
  const auto& g = q.geom;
  const int64_t groups = g.groups_per_row();
  const size_t row_bytes = packed_row_bytes(g.cols, q.format->bits);
  impl_->rotated |= !q.rotation.is_none();
  auto runs = impl_->split(g.rows, row_bytes);
  for (size_t i = 0; i < runs.size(); ++i) {
    auto [r0, r1] = runs[i];
    const size_t k0 = size_t(r0 * groups), nk = size_t((r1 - r0) * groups);
    RowValues v{q.name, q.shape, std::string(dtype_name(source_dtype)),
                q.codes.data() + size_t(r0) * row_bytes, size_t(r1 - r0) * row_bytes,
                (r1 - r0) * g.cols, std::string(q.format->name), int32_t(g.group_size),
                q.scales.data() + 2 * k0, 2 * nk,
                q.format->symmetric ? nullptr : q.zero_points.data() + k0, q.format->symmetric ? 0 : nk,
                std::string(q.format->layout), int32_t(i), int32_t(runs.size()), r0, stats, q.rotation};
    impl_->write_row(v);
  }
}

void ParquetV2Writer::write_raw(const std::string& name, DType dtype, const Shape& shape, const uint8_t* data) {
  int64_t rows = 1, cols = 1;
  if (!shape.empty()) {
    cols = shape.back();
    rows = num_elements(shape) / std::max<int64_t>(cols, 1);
    if (cols == 0) rows = 0;
  }
  const size_t row_bytes = size_t(cols) * dtype_size(dtype);
  auto runs = impl_->split(rows, row_bytes);
  for (size_t i = 0; i < runs.size(); ++i) {
    auto [r0, r1] = runs[i];
    RowValues v{name, shape, std::string(dtype_name(dtype)), data + size_t(r0) * row_bytes,
                size_t(r1 - r0) * row_bytes, (r1 - r0) * cols, parquet_v2::kQuantTypeNone, 0,
                nullptr, 0, nullptr, 0, parquet_v2::kPackingRaw, int32_t(i), int32_t(runs.size()), r0, RowStats{}, {}};
    impl_->write_row(v);
  }
}

void ParquetV2Writer::close(const FileMetadata& m) {
  namespace key = parquet_v2::key;
  auto md = std::make_shared<arrow::KeyValueMetadata>();
  auto put = [&](const char* k, const std::string& v) { md->Append(std::string(parquet_v2::kKeyPrefix) + k, v); };
  residual_ = !m.residual_rotation.is_none();
  put(key::kFormatVersion, std::to_string(format_version()));
  put(key::kToolVersion, ARROWQUANT_VERSION);
  put(key::kScaleDtype, "float16");
  put(key::kSourceKind, m.source_kind);
  put(key::kModelConfig, m.model_config.dump());
  put(key::kQuantConfig, m.quant_config.dump());
  put(key::kDecisions, m.decisions.dump());
  if (!m.activations.empty()) put(key::kActivations, m.activations);
  if (!m.residual_rotation.is_none())
    put(key::kResidualRotation, nlohmann::json{{"kind", std::string(rotation_kind_name(m.residual_rotation.kind))},
                                               {"block", m.residual_rotation.block},
                                               {"seed", m.residual_rotation.seed}}.dump());
  if (!m.time_groups.empty()) put(key::kTimeGroups, m.time_groups.to_json().dump());
  check(impl_->writer->AddKeyValueMetadata(md), "writing metadata to " + impl_->path);
  check(impl_->writer->Close(), "closing " + impl_->path);
  check(impl_->out->Close(), "closing " + impl_->path);
  impl_->closed = true;
}

}  // namespace arrowquant
