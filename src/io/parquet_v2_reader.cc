#include "io/parquet_v2_reader.h"

#include <arrow/api.h>
#include <arrow/io/memory.h>
#include <parquet/arrow/reader.h>
#include <parquet/file_reader.h>
#include <parquet/metadata.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>

#include "arrowquant/error.h"
#include "io/parquet_v2_schema.h"

namespace arrowquant::parquet_v2 {

namespace {

template <typename T>
T check(arrow::Result<T> r, const std::string& what) {
  if (!r.ok()) throw FormatError(what + ": " + r.status().ToString());
  return std::move(r).ValueUnsafe();
}

// Column access with a clear error when the column is missing, has the wrong type or has nulls.
class Columns {
 public:
  Columns(const std::string& file, std::shared_ptr<arrow::Table> t) : file_(file), t_(std::move(t)) {}
  template <typename ArrayT = arrow::Array>
  std::shared_ptr<ArrayT> get(const char* name, std::initializer_list<arrow::Type::type> ok, bool nullable = false) const {
    int i = t_->schema()->GetFieldIndex(name);
    if (i < 0) throw FormatError(file_ + ": weights table has no \"" + name + "\" column");
    auto col = t_->column(i);
    if (std::find(ok.begin(), ok.end(), col->type()->id()) == ok.end())
      throw FormatError(file_ + ": column \"" + name + "\" has type " + col->type()->ToString() +
                        ", which this reader does not accept");
    if (col->num_chunks() != 1) throw FormatError(file_ + ": column \"" + name + "\" is not contiguous");
    if (!nullable && col->null_count() > 0) throw FormatError(file_ + ": column \"" + name + "\" has nulls");
    return std::static_pointer_cast<ArrayT>(col->chunk(0));
  }
  bool has(const char* name) const { return t_->schema()->GetFieldIndex(name) >= 0; }

 private:
  std::string file_;
  std::shared_ptr<arrow::Table> t_;
};

std::string string_at(const arrow::Array& a, int64_t i) {
  if (a.type_id() == arrow::Type::STRING) return static_cast<const arrow::StringArray&>(a).GetString(i);
  return static_cast<const arrow::LargeStringArray&>(a).GetString(i);
}

std::pair<const uint8_t*, size_t> binary_at(const arrow::Array& a, int64_t i) {
  if (a.type_id() == arrow::Type::BINARY) {
    int32_t n;
    auto* p = static_cast<const arrow::BinaryArray&>(a).GetValue(i, &n);
    return {p, size_t(n)};
  }
  int64_t n;
  auto* p = static_cast<const arrow::LargeBinaryArray&>(a).GetValue(i, &n);
  return {p, size_t(n)};
}

Shape shape_at(const arrow::Array& a, int64_t i, const std::string& where) {
  const auto& lst = static_cast<const arrow::ListArray&>(a);
  if (lst.IsNull(i)) throw FormatError(where + ": null shape");
  auto vals = lst.value_slice(i);
  if (vals->null_count() > 0) throw FormatError(where + ": null dimension in shape");
  Shape s;
  int64_t elements = 1;
  for (int64_t k = 0; k < vals->length(); ++k) {
    int64_t d;
    if (vals->type_id() == arrow::Type::INT32) d = static_cast<const arrow::Int32Array&>(*vals).Value(k);
    else if (vals->type_id() == arrow::Type::INT64) d = static_cast<const arrow::Int64Array&>(*vals).Value(k);
    else throw FormatError(where + ": shape values must be integers");
    if (d < 0) throw FormatError(where + ": negative dimension in shape");
    // No tensor that fits a file has more than 2^48 elements; checking keeps every product below in range.
    if (d > 0 && elements > (int64_t(1) << 48) / d) throw FormatError(where + ": shape " + std::to_string(d) + "... is implausibly large");
    elements *= std::max<int64_t>(d, 1);
    s.push_back(d);
  }
  return s;
}

DType dtype_at(const arrow::Array& a, int64_t i, const std::string& where) {
  try {
    return dtype_from_name(string_at(a, i));
  } catch (const FormatError& e) {
    throw FormatError(where + ": " + e.what());
  }
}

int64_t cols_of(const Shape& s) { return s.empty() ? 1 : s.back(); }

// The footer's key-value pairs with our prefix; JSON-valued keys parsed.
nlohmann::json read_metadata(const parquet::FileMetaData& md, const std::string& file) {
  nlohmann::json meta = nlohmann::json::object();
  auto kv = md.key_value_metadata();
  if (!kv) return meta;
  for (int64_t i = 0; i < kv->size(); ++i) {
    const std::string& k = kv->key(i);
    if (k.rfind(std::string(kKeyPrefix), 0) != 0) continue;
    const std::string key = k.substr(kKeyPrefix.size());
    if (!key_holds_json(key)) {
      meta[key] = kv->value(i);
      continue;
    }
    meta[key] = nlohmann::json::parse(kv->value(i), nullptr, false);
    if (meta[key].is_discarded()) throw FormatError(file + ": metadata key " + k + " is not valid JSON");
  }
  return meta;
}

// The residual_rotation key, checked for what can be checked without the model's width.
InputRotation residual_rotation_of(const nlohmann::json& meta, const std::string& file) {
  InputRotation r;
  auto it = meta.find(key::kResidualRotation);
  if (it == meta.end()) return r;
  const std::string where = file + ": metadata key residual_rotation";
  if (!it->is_object() || !(*it)["kind"].is_string() || !(*it)["block"].is_number_integer() ||
      !(*it)["seed"].is_number_unsigned())
    throw FormatError(where + " must be {\"kind\": string, \"block\": integer, \"seed\": unsigned}");
  if (!rotation_kind_from_name((*it)["kind"].get<std::string>(), r.kind) || r.is_none())
    throw FormatError(where + ": unknown kind \"" + (*it)["kind"].get<std::string>() + "\"");
  r.block = (*it)["block"].get<int64_t>();
  r.seed = (*it)["seed"].get<uint64_t>();
  if (r.block < 2) throw FormatError(where + ": block " + std::to_string(r.block) + " is no Hadamard block");
  return r;
}

void check_version(const nlohmann::json& meta, const std::string& file) {
  if (!meta.contains(key::kFormatVersion)) return;
  const std::string v = meta[key::kFormatVersion].get<std::string>();
  char* end = nullptr;
  const long fv = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end || fv < 1) throw FormatError(file + ": format version \"" + v + "\" is not a number");
  if (fv > kFormatVersion)
    throw FormatError(file + ": written with format version " + v + "; this build reads up to " +
                      std::to_string(kFormatVersion));
}

void read_v1_rows(const Columns& c, int64_t n, const std::string& file, TableContents& out) {
  using T = arrow::Type;
  auto names = c.get(col::kLayerName, {T::STRING, T::LARGE_STRING});
  auto shapes = c.get(col::kShape, {T::LIST});
  auto dtypes = c.get(col::kDtype, {T::STRING, T::LARGE_STRING});
  auto data = c.get(col::kData, {T::BINARY, T::LARGE_BINARY});
  for (int64_t i = 0; i < n; ++i) {
    StoredTensor t;
    t.name = string_at(*names, i);
    const std::string where = file + ": tensor " + t.name;
    t.shape = shape_at(*shapes, i, where);
    t.dtype = dtype_at(*dtypes, i, where);
    t.num_params = num_elements(t.shape);
    auto [p, nb] = binary_at(*data, i);
    const size_t want = size_t(t.num_params) * dtype_size(t.dtype);
    if (nb != want)
      throw FormatError(where + ": data holds " + std::to_string(nb) + " bytes but " + std::string(dtype_name(t.dtype)) +
                        " x " + shape_str(t.shape) + " needs " + std::to_string(want));
    StoredChunk ch;
    ch.rows = t.shape.empty() ? 1 : (cols_of(t.shape) ? t.num_params / cols_of(t.shape) : 0);
    ch.data = p;
    ch.nbytes = nb;
    t.chunks.push_back(ch);
    out.tensors.push_back(std::move(t));
  }
}

// The V2 columns, typed and checked once.
struct V2Columns {
  std::shared_ptr<arrow::Array> names, shapes, dtypes, qtypes, packing;
  std::shared_ptr<arrow::Int64Array> num_params, row_start;
  std::shared_ptr<arrow::Int32Array> group_size, chunk_index, num_chunks;
  std::shared_ptr<arrow::UInt64Array> checksum;
  std::shared_ptr<arrow::DoubleArray> rel_rmse, cosine;
  // Absent in files written before rotations existed.
  std::shared_ptr<arrow::Array> rotation;
  std::shared_ptr<arrow::Int32Array> rotation_block;
  std::shared_ptr<arrow::UInt64Array> rotation_seed;
  explicit V2Columns(const Columns& c) {
    using T = arrow::Type;
    names = c.get(col::kLayerName, {T::STRING, T::LARGE_STRING});
    shapes = c.get(col::kShape, {T::LIST});
    dtypes = c.get(col::kDtype, {T::STRING, T::LARGE_STRING});
    qtypes = c.get(col::kQuantType, {T::STRING, T::LARGE_STRING});
    packing = c.get(col::kPacking, {T::STRING, T::LARGE_STRING});
    num_params = c.get<arrow::Int64Array>(col::kNumParams, {T::INT64});
    row_start = c.get<arrow::Int64Array>(col::kRowStart, {T::INT64});
    group_size = c.get<arrow::Int32Array>(col::kGroupSize, {T::INT32});
    chunk_index = c.get<arrow::Int32Array>(col::kChunkIndex, {T::INT32});
    num_chunks = c.get<arrow::Int32Array>(col::kNumChunks, {T::INT32});
    checksum = c.get<arrow::UInt64Array>(col::kChecksum, {T::UINT64});
    rel_rmse = c.get<arrow::DoubleArray>(col::kRelRmse, {T::DOUBLE}, true);
    cosine = c.get<arrow::DoubleArray>(col::kCosine, {T::DOUBLE}, true);
    if (c.has(col::kRotation) || c.has(col::kRotationBlock) || c.has(col::kRotationSeed)) {
      rotation = c.get(col::kRotation, {T::STRING, T::LARGE_STRING});
      rotation_block = c.get<arrow::Int32Array>(col::kRotationBlock, {T::INT32});
      rotation_seed = c.get<arrow::UInt64Array>(col::kRotationSeed, {T::UINT64});
    }
  }
};

// Row i's input rotation, checked against the tensor it belongs to.
InputRotation rotation_at(const V2Columns& c, int64_t i, const StoredTensor& t, const std::string& where) {
  InputRotation r;
  if (!c.rotation) return r;
  const std::string kind = string_at(*c.rotation, i);
  if (!rotation_kind_from_name(kind, r.kind)) throw FormatError(where + ": unknown rotation \"" + kind + "\"");
  r.block = c.rotation_block->Value(i);
  r.seed = c.rotation_seed->Value(i);
  if (!r.is_none() && !t.format) throw FormatError(where + ": an unquantised tensor cannot be stored rotated");
  if (const std::string p = rotation_problem(r, cols_of(t.shape)); !p.empty()) throw FormatError(where + ": " + p);
  return r;
}

// The tensor a tensor's first row describes: name, shape, dtype, format.
StoredTensor tensor_from_row(const V2Columns& c, int64_t i, const std::string& where) {
  StoredTensor t;
  t.name = string_at(*c.names, i);
  t.shape = shape_at(*c.shapes, i, where);
  t.dtype = dtype_at(*c.dtypes, i, where);
  const std::string qt = string_at(*c.qtypes, i);
  if (qt != kQuantTypeNone) {
    t.format = find_quant_format(qt);
    if (!t.format) throw FormatError(where + ": unknown quant_type \"" + qt + "\"");
    if (string_at(*c.packing, i) != t.format->layout)
      throw FormatError(where + ": unknown packing \"" + string_at(*c.packing, i) + "\" for " + qt);
    t.group_size = c.group_size->Value(i);
    if (t.group_size <= 0 || t.shape.empty())
      throw FormatError(where + ": quantised tensor with group size " + std::to_string(t.group_size));
    if (const std::string p = geometry_problem(*t.format, t.shape.back(), t.group_size); !p.empty())
      throw FormatError(where + ": " + p);
  }
  t.num_params = num_elements(t.shape);
  t.rotation = rotation_at(c, i, t, where);
  if (!c.rel_rmse->IsNull(i)) t.rel_rmse = c.rel_rmse->Value(i);
  if (!c.cosine->IsNull(i)) t.cosine = c.cosine->Value(i);
  return t;
}

// Row i's value of a binary column inside the file: the row group's column chunk is one uncompressed
// PLAIN page holding one value, so the value is the last `want` bytes of the chunk, after its 4-byte
// length.
const uint8_t* locate_value(const parquet::FileMetaData& md, int64_t i, int column, size_t want, const uint8_t* bytes,
                            size_t size, const std::string& where) {
  auto cc = md.RowGroup(int(i))->ColumnChunk(column);
  const std::string name = md.schema()->Column(column)->name();
  if (cc->compression() != parquet::Compression::UNCOMPRESSED || cc->has_dictionary_page() || cc->num_values() != 1)
    throw FormatError(where + ": column \"" + name + "\" is not a single uncompressed PLAIN value (cannot map it)");
  const int64_t start = cc->data_page_offset(), len = cc->total_compressed_size();
  if (start < 4 || len < int64_t(want) + 4 || len > int64_t(size) || uint64_t(start) > size - uint64_t(len))
    throw FormatError(where + ": the \"" + name + "\" page lies outside the file or is too short (truncated?)");
  const uint8_t* value = bytes + start + len - int64_t(want);
  uint32_t prefix;
  std::memcpy(&prefix, value - 4, 4);
  if (prefix != want)
    throw FormatError(where + ": \"" + name + "\" holds " + std::to_string(prefix) + " bytes, expected " +
                      std::to_string(want) + (name == col::kData ? "" : " (sizes do not match shape and group size)"));
  return value;
}

// Where a V2 file's mapped columns are: the data, and the scales and zero points (also located in the
// file rather than decoded: a quantised Qwen2.5-0.5B's scales are 15 MB).
struct MappedColumns {
  int data = -1, scales = -1, zero_points = -1;
};

// One Parquet row of tensor t: its run of rows, and views into the file of its data, scales and
// zero points.
StoredChunk chunk_from_row(const V2Columns& c, const parquet::FileMetaData& md, int64_t i, const MappedColumns& mc,
                           const StoredTensor& t, const uint8_t* bytes, size_t size, const std::string& where) {
  const int64_t cols = cols_of(t.shape);
  StoredChunk ch;
  ch.row_start = c.row_start->Value(i);
  const int64_t params = c.num_params->Value(i);
  ch.rows = cols ? params / cols : 0;
  if (params < 0 || ch.rows * cols != params || ch.row_start < 0 || params > t.num_params)
    throw FormatError(where + ": chunk " + std::to_string(c.chunk_index->Value(i)) + " does not hold whole rows");
  size_t want;
  if (t.format) {
    QuantGeometry g = quant_geometry(t.shape, t.group_size);
    g.rows = ch.rows;
    if (g.group_size != t.group_size)
      throw FormatError(where + ": group size " + std::to_string(t.group_size) + " exceeds the row length");
    want = size_t(ch.rows) * packed_row_bytes(cols, t.format->bits);
    ch.scales_nbytes = scale_bytes(g);
    ch.zero_points_nbytes = zero_point_bytes(g, *t.format);
    ch.scales = locate_value(md, i, mc.scales, ch.scales_nbytes, bytes, size, where);
    ch.zero_points = locate_value(md, i, mc.zero_points, ch.zero_points_nbytes, bytes, size, where);
    if (t.format->symmetric) ch.zero_points = nullptr;
  } else {
    want = size_t(params) * dtype_size(t.dtype);
  }
  ch.data = locate_value(md, i, mc.data, want, bytes, size, where);
  ch.nbytes = want;
  ch.checksum = c.checksum->Value(i);
  ch.has_checksum = true;
  return ch;
}

void read_v2_rows(const Columns& cols, const parquet::FileMetaData& md, const MappedColumns& mc, int64_t n,
                  const uint8_t* bytes, size_t size, const std::string& file, TableContents& out) {
  const V2Columns c(cols);
  if (md.num_row_groups() != n)
    throw FormatError(file + ": expected one row group per row (" + std::to_string(n) + " rows, " +
                      std::to_string(md.num_row_groups()) + " row groups): not written by ArrowQuant?");
  std::map<std::string, size_t> index;
  for (int64_t i = 0; i < n; ++i) {
    const std::string name = string_at(*c.names, i);
    const std::string where = file + ": tensor " + name;
    auto [it, fresh] = index.emplace(name, out.tensors.size());
    if (fresh) out.tensors.push_back(tensor_from_row(c, i, where));
    StoredTensor& t = out.tensors[it->second];
    if (!fresh && !(rotation_at(c, i, t, where) == t.rotation))
      throw FormatError(where + ": chunks disagree about the rotation");
    if (c.chunk_index->Value(i) != int32_t(t.chunks.size())) throw FormatError(where + ": chunks out of order");
    t.chunks.push_back(chunk_from_row(c, md, i, mc, t, bytes, size, where));
    if (int32_t(t.chunks.size()) > c.num_chunks->Value(i)) throw FormatError(where + ": too many chunks");
  }
  for (const auto& t : out.tensors) {
    int64_t next = 0;
    for (const auto& ch : t.chunks) {
      if (ch.row_start != next) throw FormatError(file + ": tensor " + t.name + ": chunks do not tile its rows");
      next += ch.rows;
    }
    if (next * cols_of(t.shape) != t.num_params) throw FormatError(file + ": tensor " + t.name + ": rows are missing");
  }
}

}  // namespace

namespace {

// Row and byte counts the footer claims, checked before the Parquet reader allocates for them: a
// 2.7 kB file claiming billions of rows made it allocate gigabytes (found by the fuzzer). A weights
// table has one row per tensor chunk, each holding its bytes, so rows are fewer than the file's bytes
// and every column chunk lies inside the file.
void check_sizes(const parquet::FileMetaData& md, size_t size, const std::string& file) {
  if (md.num_rows() < 0 || uint64_t(md.num_rows()) > size)
    throw FormatError(file + ": the footer claims " + std::to_string(md.num_rows()) + " rows in a file of " +
                      std::to_string(size) + " bytes: damaged");
  for (int g = 0; g < md.num_row_groups(); ++g) {
    const auto rg = md.RowGroup(g);
    if (rg->num_rows() < 0 || uint64_t(rg->num_rows()) > size)
      throw FormatError(file + ": row group " + std::to_string(g) + " claims " + std::to_string(rg->num_rows()) +
                        " rows in a file of " + std::to_string(size) + " bytes: damaged");
    for (int c = 0; c < rg->num_columns(); ++c) {
      const auto col = rg->ColumnChunk(c);
      if (col->total_compressed_size() < 0 || uint64_t(col->total_compressed_size()) > size ||
          col->num_values() < 0 || uint64_t(col->num_values()) > size)
        throw FormatError(file + ": column chunk " + std::to_string(c) + " of row group " + std::to_string(g) +
                          " claims more bytes or values than the file holds: damaged");
    }
  }
}

// The system allocator with a ceiling on any one buffer while a file is decoded: a page header may
// claim gigabytes for a page of a small file (a fuzzed file did: 2.7 GB), and the Parquet reader
// allocates what it claims before reading. Legitimate buffers are bounded by the file (pages
// decompress to a few times their size). One pool for the process (decoded tables keep its pointer
// for as long as they live); the ceiling is the calling thread's, set around each decode.
thread_local int64_t t_buffer_ceiling = INT64_MAX;

class CappedPool : public arrow::MemoryPool {
 public:
  explicit CappedPool(arrow::MemoryPool* base) : base_(base) {}
  arrow::Status Allocate(int64_t size, int64_t alignment, uint8_t** out) override {
    if (size > t_buffer_ceiling) return refuse(size);
    return base_->Allocate(size, alignment, out);
  }
  arrow::Status Reallocate(int64_t old_size, int64_t new_size, int64_t alignment, uint8_t** ptr) override {
    if (new_size > t_buffer_ceiling) return refuse(new_size);
    return base_->Reallocate(old_size, new_size, alignment, ptr);
  }
  void Free(uint8_t* buffer, int64_t size, int64_t alignment) override { base_->Free(buffer, size, alignment); }
  int64_t bytes_allocated() const override { return base_->bytes_allocated(); }
  int64_t max_memory() const override { return base_->max_memory(); }
  int64_t total_bytes_allocated() const override { return base_->total_bytes_allocated(); }
  int64_t num_allocations() const override { return base_->num_allocations(); }
  std::string backend_name() const override { return base_->backend_name(); }

 private:
  static arrow::Status refuse(int64_t size) {
    return arrow::Status::OutOfMemory("a buffer of ", size, " bytes for a file this size (limit ", t_buffer_ceiling,
                                      "): a corrupt page header?");
  }
  arrow::MemoryPool* base_;
};

struct BufferCeiling {
  explicit BufferCeiling(size_t file_size) {
    t_buffer_ceiling = std::max<int64_t>(int64_t(256) << 20, 8 * int64_t(file_size));
  }
  ~BufferCeiling() { t_buffer_ceiling = INT64_MAX; }
};

TableContents read_table_unchecked(const uint8_t* bytes, size_t size, const std::string& file) {
  if (size < 12 || std::memcmp(bytes, "PAR1", 4) != 0 || std::memcmp(bytes + size - 4, "PAR1", 4) != 0)
    throw FormatError(file + ": not a Parquet file (missing PAR1 magic; truncated?)");
  // The Parquet reader reads from the same memory, so no byte of the file is copied twice.
  auto input = std::make_shared<arrow::io::BufferReader>(std::make_shared<arrow::Buffer>(bytes, int64_t(size)));
  // The decoded columns are small (names, shapes, scales): the system allocator serves them. Arrow's
  // default pool (jemalloc) kept ~10 MB resident for them, a fifth of a packed MiniLM INT2 encode.
  static arrow::MemoryPool* const pool = new CappedPool(arrow::system_memory_pool());  // never freed: see above
  const BufferCeiling ceiling(size);
  std::unique_ptr<parquet::ParquetFileReader> pq;
  try {
    pq = parquet::ParquetFileReader::Open(input, parquet::ReaderProperties(pool));
  } catch (const std::exception& e) {
    throw FormatError(file + ": unreadable Parquet footer: " + e.what());
  }
  std::shared_ptr<parquet::FileMetaData> md = pq->metadata();
  check_sizes(*md, size, file);
  auto reader = check(parquet::arrow::FileReader::Make(pool, std::move(pq)), file + ": cannot read");
  std::shared_ptr<arrow::Schema> schema;
  if (auto st = reader->GetSchema(&schema); !st.ok()) throw FormatError(file + ": " + st.ToString());

  TableContents out;
  out.metadata = read_metadata(*md, file);
  const bool v2 = schema->GetFieldIndex(col::kQuantType) >= 0;
  out.version = v2 ? 2 : 1;
  if (v2) {
    check_version(out.metadata, file);
    out.residual_rotation = residual_rotation_of(out.metadata, file);
    if (auto it = out.metadata.find(key::kTimeGroups); it != out.metadata.end())
      out.time_groups = TimeGroupClips::from_json(*it, file + ": metadata key time_groups");
  }
  const int data_col = schema->GetFieldIndex(col::kData);
  if (data_col < 0) throw FormatError(file + ": weights table has no \"data\" column");
  // Every field of both schemas is one Parquet leaf column, so field and leaf indices agree.
  if (md->num_columns() != schema->num_fields())
    throw FormatError(file + ": nested columns other than shape lists are not part of the weights schema");
  // Read every column, except V2's data, scales and zero points: those are located in the file and mapped.
  MappedColumns mc;
  if (v2) mc = {data_col, schema->GetFieldIndex(col::kScales), schema->GetFieldIndex(col::kZeroPoints)};
  if (v2 && (mc.scales < 0 || mc.zero_points < 0)) throw FormatError(file + ": weights table has no scales/zero_points column");
  std::vector<int> read;
  for (int i = 0; i < schema->num_fields(); ++i)
    if (!(v2 && (i == mc.data || i == mc.scales || i == mc.zero_points))) read.push_back(i);
  const std::shared_ptr<arrow::Table> table = check(check(reader->ReadTable(read), file)->CombineChunks(pool), file);
  out.decoded = table;
  const Columns c(file, table);
  if (v2) read_v2_rows(c, *md, mc, table->num_rows(), bytes, size, file, out);
  else read_v1_rows(c, table->num_rows(), file, out);
  return out;
}

}  // namespace

TableContents read_table(const uint8_t* bytes, size_t size, const std::string& file) {
  try {
    return read_table_unchecked(bytes, size, file);
  } catch (const parquet::ParquetException& e) {
    // The footer's metadata is decoded lazily, row group by row group: any of it can be damaged.
    throw FormatError(file + ": damaged Parquet metadata: " + e.what());
  }
}

}  // namespace arrowquant::parquet_v2
