#include "arrowquant/weight_loader.h"

#include <arrow/api.h>
#include <arrow/io/memory.h>
#include <parquet/arrow/reader.h>
#include <parquet/file_reader.h>
#include <parquet/metadata.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>

#include "arrowquant/error.h"
#include "util/mmap_file.h"
#include "io/parquet_v2_writer.h"
#include "util/thread_pool.h"
#include "util/checksum.h"
#include "util/files.h"

namespace fs = std::filesystem;

namespace arrowquant {

size_t StoredTensor::stored_bytes() const {
  size_t n = 0;
  for (const auto& c : chunks) n += c.nbytes + c.scales_nbytes + c.zero_points_nbytes;
  return n;
}
double StoredTensor::bits_per_weight() const {
  return num_params ? 8.0 * double(stored_bytes()) / double(num_params) : 0.0;
}
std::string StoredTensor::format_name() const {
  return format ? std::string(format->name) : std::string(dtype_name(dtype));
}

std::string find_weights_file(const std::string& path) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return path;
  if (!fs::is_directory(path, ec)) throw IoError(path + ": no such file or folder");
  fs::path p = fs::path(path) / kWeightsFileName;
  if (fs::is_regular_file(p, ec)) return p.string();
  std::vector<std::string> found;
  for (const auto& e : fs::directory_iterator(path, ec))
    if (e.path().extension() == ".parquet") found.push_back(e.path().string());
  if (found.size() == 1) return found[0];
  if (found.empty()) throw FormatError(path + ": no Parquet weights file (model.parquet) in this folder");
  throw FormatError(path + ": several .parquet files and no model.parquet; name the file to open");
}

struct WeightLoader::Impl {
  std::shared_ptr<arrow::Table> table;  // decoded columns (all of V1; all but data for V2)
};

namespace {

template <typename T>
T check(arrow::Result<T> r, const std::string& what) {
  if (!r.ok()) throw FormatError(what + ": " + r.status().ToString());
  return std::move(r).ValueUnsafe();
}

// Column access with a clear error when the column is missing or has the wrong type.
class Columns {
 public:
  Columns(const std::string& file, std::shared_ptr<arrow::Table> t) : file_(file), t_(std::move(t)) {}
  bool has(const std::string& name) const { return t_->schema()->GetFieldIndex(name) >= 0; }
  template <typename ArrayT>
  std::shared_ptr<ArrayT> get(const std::string& name, std::initializer_list<arrow::Type::type> ok) const {
    int i = t_->schema()->GetFieldIndex(name);
    if (i < 0) throw FormatError(file_ + ": weights table has no \"" + name + "\" column");
    auto col = t_->column(i);
    if (std::find(ok.begin(), ok.end(), col->type()->id()) == ok.end())
      throw FormatError(file_ + ": column \"" + name + "\" has type " + col->type()->ToString() +
                        ", which this reader does not accept");
    if (col->num_chunks() != 1) throw FormatError(file_ + ": column \"" + name + "\" is not contiguous");
    return std::static_pointer_cast<ArrayT>(col->chunk(0));
  }

 private:
  std::string file_;
  std::shared_ptr<arrow::Table> t_;
};

std::string string_at(const arrow::Array& a, int64_t i) {
  if (a.type_id() == arrow::Type::STRING) return static_cast<const arrow::StringArray&>(a).GetString(i);
  if (a.type_id() == arrow::Type::LARGE_STRING) return static_cast<const arrow::LargeStringArray&>(a).GetString(i);
  throw FormatError("internal: not a string column");
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
  auto vals = lst.value_slice(i);
  Shape s;
  for (int64_t k = 0; k < vals->length(); ++k) {
    int64_t d;
    if (vals->type_id() == arrow::Type::INT32) d = static_cast<const arrow::Int32Array&>(*vals).Value(k);
    else if (vals->type_id() == arrow::Type::INT64) d = static_cast<const arrow::Int64Array&>(*vals).Value(k);
    else throw FormatError(where + ": shape values must be integers");
    if (d < 0) throw FormatError(where + ": negative dimension in shape");
    s.push_back(d);
  }
  return s;
}

void require_nonnull(const arrow::Array& a, const std::string& file, const std::string& col) {
  if (a.null_count() > 0) throw FormatError(file + ": column \"" + col + "\" has nulls");
}

}  // namespace

WeightLoader::~WeightLoader() = default;

std::unique_ptr<WeightLoader> WeightLoader::open(const std::string& path) {
  std::unique_ptr<WeightLoader> w(new WeightLoader());
  w->impl_ = std::make_unique<Impl>();
  w->file_path_ = find_weights_file(path);
  const std::string& file = w->file_path_;
  w->map_ = std::make_unique<MappedFile>(file);
  const MappedFile& map = *w->map_;
  if (map.size() < 12 || std::memcmp(map.data(), "PAR1", 4) != 0 ||
      std::memcmp(map.data() + map.size() - 4, "PAR1", 4) != 0)
    throw FormatError(file + ": not a Parquet file (missing PAR1 magic; truncated?)");

  // The Parquet reader reads from the same mapping, so no byte of the file is copied twice.
  auto buffer = std::make_shared<arrow::Buffer>(map.data(), int64_t(map.size()));
  auto input = std::make_shared<arrow::io::BufferReader>(buffer);
  std::unique_ptr<parquet::ParquetFileReader> pq;
  try {
    pq = parquet::ParquetFileReader::Open(input);
  } catch (const std::exception& e) {
    throw FormatError(file + ": unreadable Parquet footer: " + e.what());
  }
  auto md = pq->metadata();
  auto reader = check(parquet::arrow::FileReader::Make(arrow::default_memory_pool(), std::move(pq)),
                      file + ": cannot read");
  std::shared_ptr<arrow::Schema> schema;
  if (auto st = reader->GetSchema(&schema); !st.ok()) throw FormatError(file + ": " + st.ToString());

  // Key-value metadata: ours carries "arrowquant.*" keys.
  nlohmann::json meta = nlohmann::json::object();
  if (auto kv = md->key_value_metadata()) {
    for (int64_t i = 0; i < kv->size(); ++i) {
      const std::string& k = kv->key(i);
      if (k.rfind("arrowquant.", 0) != 0) continue;
      std::string key = k.substr(11);
      try {
        meta[key] = (key == "model_config" || key == "quant_config" || key == "decisions")
                        ? nlohmann::json::parse(kv->value(i))
                        : nlohmann::json(kv->value(i));
      } catch (const std::exception&) {
        throw FormatError(file + ": metadata key " + k + " is not valid JSON");
      }
    }
  }
  fs::path side = fs::path(file).parent_path() / kMetadataFileName;
  std::error_code ec;
  if (fs::is_regular_file(side, ec)) {
    try {
      auto j = nlohmann::json::parse(read_text_file(side.string()));
      if (j.is_object())
        for (auto it = j.begin(); it != j.end(); ++it)
          if (!meta.contains(it.key())) meta[it.key()] = it.value();
    } catch (const nlohmann::json::exception& e) {
      throw FormatError(side.string() + ": invalid JSON: " + e.what());
    }
  }
  w->metadata_ = meta;

  const bool v2 = schema->GetFieldIndex("quant_type") >= 0;
  w->version_ = v2 ? 2 : 1;
  if (v2 && meta.contains("format_version")) {
    int fv = std::atoi(meta["format_version"].get<std::string>().c_str());
    if (fv > kFormatVersion)
      throw FormatError(file + ": written with format version " + std::to_string(fv) +
                        "; this build reads up to " + std::to_string(kFormatVersion));
  }
  const int data_col = schema->GetFieldIndex("data");
  if (data_col < 0) throw FormatError(file + ": weights table has no \"data\" column");

  // Read every column, except V2's data column: that one is located in the file and mapped.
  std::vector<int> cols;
  for (int i = 0; i < schema->num_fields(); ++i)
    if (!(v2 && i == data_col)) cols.push_back(i);
  // Every field of both schemas is one Parquet leaf column, so field and leaf indices agree.
  if (md->num_columns() != schema->num_fields())
    throw FormatError(file + ": nested columns other than shape lists are not part of the weights schema");
  auto table = check(reader->ReadTable(cols), file);
  table = check(table->CombineChunks(), file);
  w->impl_->table = table;
  Columns c(file, table);
  using T = arrow::Type;
  auto names = c.get<arrow::Array>("layer_name", {T::STRING, T::LARGE_STRING});
  auto shapes = c.get<arrow::Array>("shape", {T::LIST});
  auto dtypes = c.get<arrow::Array>("dtype", {T::STRING, T::LARGE_STRING});
  require_nonnull(*names, file, "layer_name");
  require_nonnull(*shapes, file, "shape");
  require_nonnull(*dtypes, file, "dtype");
  const int64_t n = table->num_rows();

  if (!v2) {
    auto data = c.get<arrow::Array>("data", {T::BINARY, T::LARGE_BINARY});
    require_nonnull(*data, file, "data");
    for (int64_t i = 0; i < n; ++i) {
      StoredTensor t;
      t.name = string_at(*names, i);
      const std::string where = file + ": tensor " + t.name;
      t.shape = shape_at(*shapes, i, where);
      try {
        t.dtype = dtype_from_name(string_at(*dtypes, i));
      } catch (const FormatError& e) {
        throw FormatError(where + ": " + e.what());
      }
      t.num_params = num_elements(t.shape);
      auto [p, nb] = binary_at(*data, i);
      if (nb != size_t(t.num_params) * dtype_size(t.dtype))
        throw FormatError(where + ": data holds " + std::to_string(nb) + " bytes but " +
                          std::string(dtype_name(t.dtype)) + " x " + shape_str(t.shape) + " needs " +
                          std::to_string(size_t(t.num_params) * dtype_size(t.dtype)));
      StoredChunk ch;
      ch.rows = t.shape.empty() ? 1 : t.num_params / std::max<int64_t>(1, t.shape.back());
      ch.data = p;
      ch.nbytes = nb;
      t.chunks.push_back(ch);
      w->tensors_.push_back(std::move(t));
    }
    return w;
  }

  auto num_params = c.get<arrow::Int64Array>("num_params", {T::INT64});
  auto qtypes = c.get<arrow::Array>("quant_type", {T::STRING, T::LARGE_STRING});
  auto gsizes = c.get<arrow::Int32Array>("group_size", {T::INT32});
  auto scales = c.get<arrow::Array>("scales", {T::BINARY, T::LARGE_BINARY});
  auto zps = c.get<arrow::Array>("zero_points", {T::BINARY, T::LARGE_BINARY});
  auto packing = c.get<arrow::Array>("packing", {T::STRING, T::LARGE_STRING});
  auto chunk_idx = c.get<arrow::Int32Array>("chunk_index", {T::INT32});
  auto num_chunks = c.get<arrow::Int32Array>("num_chunks", {T::INT32});
  auto row_start = c.get<arrow::Int64Array>("row_start", {T::INT64});
  auto checksum = c.get<arrow::UInt64Array>("checksum", {T::UINT64});
  auto rel = c.get<arrow::DoubleArray>("rel_rmse", {T::DOUBLE});
  auto cosv = c.get<arrow::DoubleArray>("cosine", {T::DOUBLE});
  if (md->num_row_groups() != n)
    throw FormatError(file + ": expected one row group per row (" + std::to_string(n) + " rows, " +
                      std::to_string(md->num_row_groups()) + " row groups): not written by ArrowQuant?");

  std::map<std::string, size_t> index;
  for (int64_t i = 0; i < n; ++i) {
    const std::string name = string_at(*names, i);
    const std::string where = file + ": tensor " + name;
    auto [it, fresh] = index.emplace(name, w->tensors_.size());
    if (fresh) {
      StoredTensor t;
      t.name = name;
      t.shape = shape_at(*shapes, i, where);
      try {
        t.dtype = dtype_from_name(string_at(*dtypes, i));
      } catch (const FormatError& e) {
        throw FormatError(where + ": " + e.what());
      }
      const std::string qt = string_at(*qtypes, i);
      if (qt != kQuantTypeNone) {
        t.format = find_quant_format(qt);
        if (!t.format) throw FormatError(where + ": unknown quant_type \"" + qt + "\"");
        if (string_at(*packing, i) != kPackingLsbRows)
          throw FormatError(where + ": unknown packing \"" + string_at(*packing, i) + "\"");
        t.group_size = gsizes->Value(i);
        if (t.group_size <= 0 || t.shape.empty())
          throw FormatError(where + ": quantised tensor with group size " + std::to_string(t.group_size));
      }
      t.num_params = num_elements(t.shape);
      if (!rel->IsNull(i)) t.rel_rmse = rel->Value(i);
      if (!cosv->IsNull(i)) t.cosine = cosv->Value(i);
      w->tensors_.push_back(std::move(t));
    }
    StoredTensor& t = w->tensors_[it->second];
    const int64_t cols = t.shape.empty() ? 1 : t.shape.back();
    StoredChunk ch;
    ch.row_start = row_start->Value(i);
    ch.rows = cols ? num_params->Value(i) / cols : 0;
    if (ch.rows * cols != num_params->Value(i) || ch.row_start < 0)
      throw FormatError(where + ": chunk " + std::to_string(chunk_idx->Value(i)) + " does not hold whole rows");
    size_t want;
    if (t.format) {
      QuantGeometry g = quant_geometry(t.shape, t.group_size);
      g.rows = ch.rows;
      if (g.group_size != t.group_size)
        throw FormatError(where + ": group size " + std::to_string(t.group_size) + " exceeds the row length");
      want = size_t(ch.rows) * packed_row_bytes(cols, t.format->bits);
      std::tie(ch.scales, ch.scales_nbytes) = binary_at(*scales, i);
      std::tie(ch.zero_points, ch.zero_points_nbytes) = binary_at(*zps, i);
      if (ch.scales_nbytes != scale_bytes(g) || ch.zero_points_nbytes != zero_point_bytes(g, *t.format))
        throw FormatError(where + ": scales/zero_points sizes do not match shape and group size");
      if (t.format->symmetric) ch.zero_points = nullptr;
    } else {
      want = size_t(ch.rows * cols) * dtype_size(t.dtype);
    }
    // Locate the data value: the row group's data column chunk is one uncompressed PLAIN page
    // holding one value, so the value is the last `want` bytes of the chunk, after its 4-byte length.
    auto cc = md->RowGroup(int(i))->ColumnChunk(data_col);
    if (cc->compression() != parquet::Compression::UNCOMPRESSED || cc->has_dictionary_page() ||
        cc->num_values() != 1)
      throw FormatError(where + ": data column is not a single uncompressed PLAIN value (cannot map it)");
    const int64_t start = cc->data_page_offset(), len = cc->total_compressed_size();
    if (start < 4 || len < int64_t(want) + 4 || uint64_t(start + len) > map.size())
      throw FormatError(where + ": data page lies outside the file or is too short (truncated?)");
    const uint8_t* value = map.data() + start + len - int64_t(want);
    uint32_t prefix;
    std::memcpy(&prefix, value - 4, 4);
    if (prefix != want)
      throw FormatError(where + ": data value holds " + std::to_string(prefix) + " bytes, expected " +
                        std::to_string(want));
    ch.data = value;
    ch.nbytes = want;
    ch.checksum = checksum->Value(i);
    ch.has_checksum = true;
    if (chunk_idx->Value(i) != int32_t(t.chunks.size()))
      throw FormatError(where + ": chunks out of order");
    t.chunks.push_back(ch);
    if (int32_t(t.chunks.size()) > num_chunks->Value(i)) throw FormatError(where + ": too many chunks");
  }
  for (const auto& t : w->tensors_) {
    int64_t next = 0;
    for (const auto& ch : t.chunks) {
      if (ch.row_start != next) throw FormatError(file + ": tensor " + t.name + ": chunks do not tile its rows");
      next += ch.rows;
    }
    const int64_t cols = t.shape.empty() ? 1 : t.shape.back();
    if (next * cols != t.num_params) throw FormatError(file + ": tensor " + t.name + ": rows are missing");
  }
  return w;
}

bool WeightLoader::maps(const void* p, size_t n) const { return map_->contains(p, n); }
size_t WeightLoader::offset_in_file(const void* p) const {
  return size_t(static_cast<const uint8_t*>(p) - map_->data());
}

const StoredTensor* WeightLoader::find(const std::string& name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

const StoredTensor& WeightLoader::tensor(const std::string& name) const {
  if (auto* t = find(name)) return *t;
  throw ValueError(file_path_ + ": no tensor named \"" + name + "\"");
}

void WeightLoader::verify_checksums(const StoredTensor& t) const {
  for (size_t i = 0; i < t.chunks.size(); ++i) {
    const auto& c = t.chunks[i];
    if (!c.has_checksum) continue;
    uint64_t h = checksum_bytes(c.data, c.nbytes, c.scales, c.scales_nbytes, c.zero_points,
                                c.zero_points ? c.zero_points_nbytes : 0);
    if (h != c.checksum)
      throw FormatError(file_path_ + ": tensor " + t.name + " chunk " + std::to_string(i) +
                        ": checksum mismatch (the file is corrupt)");
  }
}

PackedView WeightLoader::packed(const StoredTensor& t, size_t chunk) const {
  if (!t.format) throw ValueError("tensor " + t.name + " is not quantised");
  const auto& c = t.chunks.at(chunk);
  PackedView v;
  v.format = t.format;
  v.geom = quant_geometry(t.shape, t.group_size);
  v.geom.rows = c.rows;
  v.codes = c.data;
  v.scales = c.scales;
  v.zero_points = c.zero_points;
  return v;
}

FloatTensor WeightLoader::dequantize(const std::string& name) const {
  const StoredTensor& t = tensor(name);
  verify_checksums(t);
  FloatTensor out{t.name, t.shape, std::vector<float>(size_t(t.num_params))};
  const int64_t cols = t.shape.empty() ? 1 : t.shape.back();
  for (size_t i = 0; i < t.chunks.size(); ++i) {
    const auto& c = t.chunks[i];
    float* dst = out.values.data() + c.row_start * cols;
    if (t.format) {
      PackedView v = packed(t, i);
      // Rows are independent: split big tensors over the cores (a small one stays on this thread).
      const int threads = c.rows * cols >= (int64_t(1) << 16) ? 0 : 1;
      parallel_for(c.rows, threads, [&](int64_t r0, int64_t r1) { dequantize_rows(v, r0, r1, dst + r0 * cols); });
    } else {
      if (!dtype_is_float(t.dtype))
        throw ValueError("tensor " + t.name + " holds " + std::string(dtype_name(t.dtype)) + ", not floats");
      convert_to_f32(t.dtype, c.data, size_t(c.rows * cols), dst);
    }
  }
  return out;
}

std::vector<uint8_t> WeightLoader::raw_bytes(const std::string& name) const {
  const StoredTensor& t = tensor(name);
  if (t.format) throw ValueError("tensor " + t.name + " is quantised; dequantize it instead");
  verify_checksums(t);
  std::vector<uint8_t> out;
  for (const auto& c : t.chunks) out.insert(out.end(), c.data, c.data + c.nbytes);
  return out;
}

nlohmann::json WeightLoader::model_config() const {
  if (metadata_.contains("model_config") && metadata_["model_config"].is_object()) return metadata_["model_config"];
  fs::path cfg = fs::path(file_path_).parent_path() / "config.json";
  std::error_code ec;
  if (fs::is_regular_file(cfg, ec)) return nlohmann::json::parse(read_text_file(cfg.string()));
  return nlohmann::json::object();
}

}  // namespace arrowquant
