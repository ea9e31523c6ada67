#include "interop/checkpoint_import.h"

#include <cstdio>
#include <filesystem>
#include <map>

#include "arrowquant/error.h"
#include "arrowquant/tensor_source.h"
#include "interop/seq_snap.h"
#include "io/parquet_v2_schema.h"
#include "io/parquet_v2_writer.h"
#include "util/files.h"
#include "util/interrupt.h"

namespace fs = std::filesystem;

namespace arrowquant {

namespace {

// Whether a tensor the source offers in float was stored quantised there (a GGUF's "Q4_1", a GPTQ
// act-order tensor), not as a float type.
bool quantised_in_source(const SourceTensorInfo& t) {
  return !t.stored_type.empty() && t.stored_type != "F32" && t.stored_type != "F16" && t.stored_type != "BF16";
}

constexpr int64_t kChunkBytes = int64_t(64) << 20;  // one Parquet value at most (as quantize writes them)

QuantizedTensor copy_of(const SourceTensorInfo& t, const std::vector<PackedRows>& chunks) {
  QuantizedTensor q;
  q.name = t.name;
  q.shape = t.shape;
  q.format = chunks.at(0).view.format;
  q.geom = chunks[0].view.geom;
  q.geom.rows = 0;
  q.rotation = t.rotation;
  const size_t row_bytes = packed_row_bytes(q.geom.cols, q.format->bits);
  for (const PackedRows& c : chunks) {
    const PackedView& v = c.view;
    const size_t groups = size_t(v.geom.groups_per_row() * v.geom.rows);
    q.codes.insert(q.codes.end(), v.codes, v.codes + row_bytes * size_t(v.geom.rows));
    q.scales.insert(q.scales.end(), v.scales, v.scales + 2 * groups);
    if (v.zero_points) q.zero_points.insert(q.zero_points.end(), v.zero_points, v.zero_points + groups);
    q.geom.rows += v.geom.rows;
  }
  return q;
}

}  // namespace

ImportReport import_checkpoint(const std::string& checkpoint, const std::string& out, const ExportProgress& progress) {
  auto src = open_tensor_source(checkpoint);
  ImportReport report;
  report.source_kind = src->kind();
  bool any_packed = false;
  for (const auto& t : src->tensors()) any_packed |= t.format != nullptr || quantised_in_source(t);
  // A float model may be one quantised in its values (AngelSlim's SEQ 2-bit, shipped fake-quantised):
  // its block Linears found on that grid are stored as int2_half codes.
  std::map<std::string, SeqSnap> snapped;
  if (!any_packed)
    for (const auto& t : src->tensors())
      if (!t.format && dtype_is_float(t.dtype) && t.shape.size() == 2 && t.name.rfind("model.layers.", 0) == 0 &&
          t.name.ends_with("_proj.weight"))
        if (auto s = snap_to_seq_grid(src->read_f32(t.name))) snapped.emplace(t.name, std::move(*s));
  if (!any_packed && snapped.empty())
    throw FormatError(checkpoint + ": no quantised tensor here (" + src->kind() +
                      "); `import` reads compressed-tensors, GPTQ, AWQ and quantised GGUF files and AngelSlim's "
                      "fake-quantised SEQ 2-bit weights — quantise a float model instead");

  AtomicDir dir(out, false);
  const std::string parquet = (fs::path(dir.temp_path()) / parquet_v2::kWeightsFile).string();
  ParquetV2Writer writer(parquet, kChunkBytes);
  const auto& infos = src->tensors();
  nlohmann::json decisions = nlohmann::json::array();
  for (size_t i = 0; i < infos.size(); ++i) {
    if (interrupt_requested()) throw Interrupted("interrupted: " + out + " was not written");
    const SourceTensorInfo& t = infos[i];
    if (progress) progress(i, infos.size(), t.name);
    report.source_bytes += t.stored_bytes ? t.stored_bytes : size_t(num_elements(t.shape)) * dtype_size(t.dtype);
    ImportedTensor e{t.name, t.stored_type.empty() ? std::string(dtype_name(t.dtype)) : t.stored_type};
    if (auto it = snapped.find(t.name); it != snapped.end()) {
      const SeqSnap& s = it->second;
      writer.write_quantized(s.q, t.dtype, RowStats{});
      char buf[160];
      snprintf(buf, sizeof buf, "%s on the SEQ 2-bit grid (outer levels within %.1e)", std::string(dtype_name(t.dtype)).c_str(),
               s.max_rel_diff);
      e.source = buf;
      e.stored = std::string(s.q.format->name) + " g" + std::to_string(s.q.geom.group_size);
      e.packed = true;
      report.max_snap_difference = std::max(report.max_snap_difference, s.max_rel_diff);
      decisions.push_back({{"tensor", t.name}, {"decision", buf}});
    } else if (t.format) {
      const QuantizedTensor q = copy_of(t, src->read_packed(t.name));
      writer.write_quantized(q, t.dtype, RowStats{});
      e.stored = std::string(q.format->name) + " g" + std::to_string(q.geom.group_size);
      e.packed = true;
    } else if (!dtype_is_float(t.dtype)) {
      writer.write_raw(t.name, t.dtype, t.shape, src->read_raw(t.name).data());
      e.stored = std::string(dtype_name(t.dtype));
    } else {  // float tensors, and quantised ones our table cannot hold (dequantised by the source)
      const FloatTensor f = src->read_f32(t.name);
      std::vector<uint8_t> bytes(f.values.size() * dtype_size(t.dtype));
      convert_from_f32(t.dtype, f.values.data(), f.values.size(), bytes.data());
      writer.write_raw(t.name, t.dtype, t.shape, bytes.data());
      e.stored = std::string(dtype_name(t.dtype));
      e.dequantised = quantised_in_source(t);
      if (e.dequantised)
        decisions.push_back({{"tensor", t.name}, {"decision", t.stored_type + ": no exact format here, stored dequantised"}});
    }
    report.tensors.push_back(e);
  }
  FileMetadata meta;
  meta.source_kind = src->kind();
  meta.model_config = src->model_config();
  meta.quant_config = {{"imported_from", src->kind()}, {"source", checkpoint}};
  meta.decisions = decisions;
  meta.activations = src->calibrated_activations();
  writer.close(meta);
  for (const auto& f : src->companion_files()) {
    fs::path rel = fs::path(f).filename();
    if (fs::path(f).parent_path().filename() == "1_Pooling") rel = fs::path("1_Pooling") / rel;
    fs::create_directories((fs::path(dir.temp_path()) / rel).parent_path());
    fs::copy_file(f, fs::path(dir.temp_path()) / rel, fs::copy_options::overwrite_existing);
  }
  for (const auto& f : src->made_companions())  // a GGUF's vocabulary
    write_text_file((fs::path(dir.temp_path()) / f.name).string(), std::string(f.bytes.begin(), f.bytes.end()));
  if (!fs::exists(fs::path(dir.temp_path()) / "config.json"))
    write_text_file((fs::path(dir.temp_path()) / "config.json").string(), meta.model_config.dump(2) + "\n");
  report.file_bytes = size_t(fs::file_size(parquet));
  dir.commit();
  if (progress) progress(infos.size(), infos.size(), "");
  return report;
}

}  // namespace arrowquant
