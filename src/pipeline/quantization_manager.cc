#include "arrowquant/quantization_manager.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "arrowquant/error.h"
#include "io/parquet_v2_schema.h"
#include "io/parquet_v2_writer.h"
#include "pipeline/precision_rules.h"
#include "quant/rtn.h"
#include "quant/weight_error.h"
#include "arrowquant/packed_tensor.h"
#include "arrowquant/tensor_source.h"
#include "util/files.h"
#include "util/clock.h"
#include "util/interrupt.h"
#include "util/version.h"
#include "pipeline/bit_allocation.h"
#include "pipeline/calibrated_quantizer.h"
#include "pipeline/checkpoint.h"

namespace fs = std::filesystem;

namespace arrowquant {

nlohmann::json QuantizeReport::to_json() const {
  nlohmann::json ts = nlohmann::json::array();
  for (const auto& t : tensors) {
    nlohmann::json j = {{"name", t.name}, {"shape", t.shape}, {"format", t.format},
                        {"group_size", t.group_size}, {"num_params", t.num_params},
                        {"bytes", t.stored_bytes}, {"bits_per_weight", t.bits_per_weight}};
    if (t.rel_rmse >= 0) { j["rel_rmse"] = t.rel_rmse; j["cosine"] = t.cosine; }
    if (!t.reason.empty()) j["reason"] = t.reason;
    if (!t.method.empty()) j["method"] = t.method;
    if (t.output_cosine >= 0) { j["output_cosine"] = t.output_cosine; j["output_rel_mse"] = t.output_rel_mse; }
    if (t.rtn_output_rel_mse >= 0) j["rtn_output_rel_mse"] = t.rtn_output_rel_mse;
    ts.push_back(j);
  }
  int64_t params = 0;
  for (const auto& t : tensors) params += t.num_params;
  nlohmann::json j = {{"source", source}, {"source_kind", source_kind}, {"output", output},
                      {"file_bytes", file_bytes}, {"num_params", params},
                      {"bits_per_weight", params ? 8.0 * double(file_bytes) / double(params) : 0.0},
                      {"seconds", seconds}, {"tensors", ts}};
  if (source_f16_bytes) {
    j["fp16_bytes"] = source_f16_bytes;
    j["compression_vs_fp16"] = double(source_f16_bytes) / double(file_bytes);
  }
  if (!source.empty()) j["config"] = config.to_json();
  if (!calibration.is_null()) j["calibration"] = calibration;
  if (!decisions.empty()) j["decisions"] = decisions;
  return j;
}

std::string QuantizeReport::to_markdown() const {
  std::string s = "| tensor | shape | format | group | bits/weight | bytes | rel RMSE | cosine |\n"
                  "|---|---|---|---:|---:|---:|---:|---:|\n";
  char buf[512];
  for (const auto& t : tensors) {
    char e1[32] = "-", e2[32] = "-";
    if (t.rel_rmse >= 0) { snprintf(e1, sizeof e1, "%.4f", t.rel_rmse); snprintf(e2, sizeof e2, "%.5f", t.cosine); }
    snprintf(buf, sizeof buf, "| %s | %s | %s | %lld | %.3f | %zu | %s | %s |\n", t.name.c_str(),
             shape_str(t.shape).c_str(), t.format.c_str(), (long long)t.group_size, t.bits_per_weight,
             t.stored_bytes, e1, e2);
    s += buf;
  }
  return s;
}

namespace {

TensorReport report_of(const StoredTensor& t) {
  TensorReport r;
  r.name = t.name;
  r.shape = t.shape;
  r.format = t.format_name();
  r.group_size = t.group_size;
  r.num_params = t.num_params;
  r.stored_bytes = t.stored_bytes();
  r.bits_per_weight = t.bits_per_weight();
  r.rel_rmse = t.rel_rmse;
  r.cosine = t.cosine;
  return r;
}

nlohmann::json plans_json(const std::vector<SourceTensorInfo>& infos, const std::vector<TensorPlan>& plans) {
  nlohmann::json j = nlohmann::json::object();
  for (size_t i = 0; i < infos.size(); ++i)
    if (plans[i].quantize) j[infos[i].name] = {std::string(plans[i].format->name), plans[i].group_size};
  return j;
}

}  // namespace

QuantizeReport QuantizationManager::report(const WeightLoader& w) {
  QuantizeReport r;
  r.output = w.path();
  for (const auto& t : w.tensors()) r.tensors.push_back(report_of(t));
  std::error_code ec;
  r.file_bytes = size_t(fs::file_size(w.path(), ec));
  return r;
}

QuantizeReport QuantizationManager::quantize(const std::string& model_path, const std::string& output_dir,
                                             bool overwrite, const ProgressFn& progress, bool resume, const LogFn& log) {
  validate(config_);
  const double t0 = now_seconds();
  auto src = open_tensor_source(model_path);
  const auto& infos = src->tensors();
  if (infos.empty()) throw FormatError(model_path + ": the model holds no tensors");

  // Plan everything before writing anything, so bad settings fail fast.
  std::vector<TensorPlan> plans;
  for (const auto& t : infos) plans.push_back(plan_tensor(t, config_));
  // The output folder is prepared first so that an unwritable destination fails before any work;
  // an error later removes it again.
  AtomicDir out(output_dir, overwrite);
  nlohmann::json decisions = nlohmann::json::array();
  if (config_.target_bpw > 0 || config_.target_size_mb > 0) {
    decisions = allocate_bits(model_path, *src, config_, plans, log);
  }
  std::map<std::string, TensorPlan> plan_by_name;
  for (size_t i = 0; i < infos.size(); ++i) plan_by_name[infos[i].name] = plans[i];

  std::error_code size_ec;
  const nlohmann::json manifest = {{"source", fs::absolute(model_path).string()},
                                   {"config", config_.to_json()},
                                   {"plans", plans_json(infos, plans)},
                                   {"tool_version", ARROWQUANT_VERSION}};
  std::optional<Checkpoint> ckpt;
  auto open_checkpoint = [&]() -> const Checkpoint* {
    if (!ckpt) ckpt.emplace(output_dir, manifest, resume);
    return &*ckpt;
  };

  CalibrationResult calib;
  const bool calibrated = config_.needs_calibration();
  if (calibrated) {
    BlockProgress bp = nullptr;
    std::string label;
    if (progress) bp = [&](int64_t done, int64_t total, const std::string& what) {
      label = "calibrate " + what;
      progress({size_t(done), size_t(total), label});
    };
    calib = quantize_calibrated(model_path, config_, plan_by_name, open_checkpoint, log, bp);
    for (auto& d : calib.decisions) decisions.push_back(d);
  }

  open_checkpoint();
  const std::string parquet_path = (fs::path(out.temp_path()) / parquet_v2::kWeightsFile).string();
  ParquetV2Writer writer(parquet_path, config_.chunk_bytes);
  QuantizeReport rep;
  rep.source = model_path;
  rep.source_kind = src->kind();
  rep.output = output_dir;
  if (calibrated)
    rep.calibration = {{"file", config_.calibration}, {"sequences", calib.sequences}, {"tokens", calib.tokens},
                       {"resumed_blocks", calib.resumed_blocks}};
  rep.config = config_;
  const ClipMethod clip = config_.clip;

  for (size_t i = 0; i < infos.size(); ++i) {
    if (interrupt_requested()) throw Error("interrupted: no output was written");
    const auto& info = infos[i];
    const auto& plan = plans[i];
    if (progress) progress({i, infos.size(), info.name});
    TensorReport tr;
    tr.name = info.name;
    tr.shape = info.shape;
    tr.num_params = num_elements(info.shape);
    tr.reason = plan.reason;
    if (dtype_is_float(info.dtype)) rep.source_f16_bytes += size_t(tr.num_params) * 2;
    if (auto it = calib.tensors.find(info.name); plan.quantize && it != calib.tensors.end()) {
      const CalibratedTensor& ct = it->second;
      // Against the float weight it was made from: with folded scales (AWQ, SmoothQuant) that is not
      // the source weight, and the source weight is no longer what the model multiplies by.
      RowStats st{true, ct.weight.rel_rmse, ct.weight.cosine};
      writer.write_quantized(ct.tensor, info.dtype, st);
      tr.format = std::string(ct.tensor.format->name);
      tr.group_size = ct.tensor.geom.group_size;
      tr.stored_bytes = ct.tensor.codes.size() + ct.tensor.scales.size() + ct.tensor.zero_points.size();
      tr.rel_rmse = st.rel_rmse;
      tr.cosine = st.cosine;
      tr.method = ct.method;
      tr.output_rel_mse = ct.error.rel_mse;
      tr.output_cosine = ct.error.cosine;
      tr.rtn_output_rel_mse = ct.rtn_rel_mse;
    } else if (auto fl = calib.floats.find(info.name); fl != calib.floats.end()) {
      // A float tensor the calibrated run changed (a norm that absorbed AWQ/SmoothQuant scales).
      DType keep = info.dtype == DType::F64 ? DType::F32 : info.dtype;
      if (!dtype_is_float(keep)) throw FormatError(info.name + ": changed by calibration but not a float tensor");
      std::vector<uint8_t> bytes(fl->second.size() * dtype_size(keep));
      convert_from_f32(keep, fl->second.data(), fl->second.size(), bytes.data());
      writer.write_raw(info.name, keep, info.shape, bytes.data());
      tr.format = std::string(dtype_name(keep));
      tr.stored_bytes = bytes.size();
      tr.reason = "changed by calibration (folded scales or bias correction)";
    } else if (!plan.quantize) {
      DType keep = info.dtype == DType::F64 ? DType::F32 : info.dtype;
      std::vector<uint8_t> bytes;
      if (dtype_is_float(info.dtype)) {
        FloatTensor f = src->read_f32(info.name);
        if (int64_t bad = first_nonfinite(f.values.data(), f.values.size()); bad >= 0 && !config_.allow_nonfinite)
          throw ValueError("tensor " + info.name + " has a non-finite value at flat index " + std::to_string(bad) +
                           " (pass --allow-nonfinite to store it anyway)");
        bytes.resize(f.values.size() * dtype_size(keep));
        convert_from_f32(keep, f.values.data(), f.values.size(), bytes.data());
      } else {
        bytes = src->read_raw(info.name);
      }
      writer.write_raw(info.name, keep, info.shape, bytes.data());
      tr.format = std::string(dtype_name(keep));
      tr.stored_bytes = bytes.size();
    } else {
      FloatTensor f = src->read_f32(info.name);
      if (config_.allow_nonfinite) {
        size_t fixed = 0;
        for (auto& v : f.values) if (!std::isfinite(v)) { v = 0; ++fixed; }
        if (fixed) decisions.push_back({{"tensor", info.name}, {"decision", "replaced " + std::to_string(fixed) + " non-finite values by 0"}});
      }
      const std::string key = "tensor_" + std::to_string(i);
      QuantizedTensor q;
      if (auto piece = ckpt->load(key); piece && piece->quantized.size() == 1) {
        q = std::move(piece->quantized[0]);
      } else {
        QuantizeOptions opt{plan.format, plan.group_size, clip, config_.threads};
        q = quantize_rtn(f, opt);
        CheckpointPiece p;
        p.quantized.push_back(q);
        ckpt->save(key, p);
      }
      std::vector<float> back(f.values.size());
      dequantize_rows(view_of(q), 0, q.geom.rows, back.data());
      const WeightError we = weight_error(f.values.data(), back.data(), back.size());
      RowStats st{true, we.rel_rmse, we.cosine};
      writer.write_quantized(q, info.dtype, st);
      tr.format = std::string(q.format->name);
      tr.group_size = q.geom.group_size;
      tr.stored_bytes = q.codes.size() + q.scales.size() + q.zero_points.size();
      tr.rel_rmse = st.rel_rmse;
      tr.cosine = st.cosine;
    }
    tr.bits_per_weight = tr.num_params ? 8.0 * double(tr.stored_bytes) / double(tr.num_params) : 0;
    rep.tensors.push_back(std::move(tr));
  }
  if (progress) progress({infos.size(), infos.size(), ""});

  const nlohmann::json model_cfg = src->model_config();
  FileMetadata file_meta;
  file_meta.source_kind = src->kind();
  file_meta.model_config = model_cfg;
  file_meta.quant_config = config_.to_json();
  file_meta.decisions = decisions;
  if (config_.method == Method::SmoothQuant) file_meta.activations = "int8";  // its scales were chosen for int8
  writer.close(file_meta);

  // Companion files (config, tokenizer) so the folder is a complete model.
  for (const auto& f : src->companion_files()) {
    fs::path rel = fs::path(f).filename();
    if (fs::path(f).parent_path().filename() == "1_Pooling") rel = fs::path("1_Pooling") / rel;
    fs::create_directories((fs::path(out.temp_path()) / rel).parent_path());
    std::error_code ec;
    fs::copy_file(f, fs::path(out.temp_path()) / rel, fs::copy_options::overwrite_existing, ec);
    if (ec) throw IoError("cannot copy " + f + " into the output: " + ec.message());
  }
  if (!fs::exists(fs::path(out.temp_path()) / "config.json") && !model_cfg.empty())
    write_text_file((fs::path(out.temp_path()) / "config.json").string(), model_cfg.dump(2) + "\n");

  rep.decisions = decisions;
  rep.file_bytes = size_t(fs::file_size(parquet_path));
  rep.seconds = now_seconds() - t0;
  nlohmann::json meta = rep.to_json();
  // A readable copy of what the file carries, with the report; the runtime never reads it.
  meta[parquet_v2::key::kFormatVersion] = std::to_string(parquet_v2::kFormatVersion);
  meta[parquet_v2::key::kToolVersion] = ARROWQUANT_VERSION;
  meta[parquet_v2::key::kScaleDtype] = "float16";
  if (!file_meta.activations.empty()) meta[parquet_v2::key::kActivations] = file_meta.activations;
  meta["decisions"] = decisions;
  meta["output"] = output_dir;
  write_text_file((fs::path(out.temp_path()) / parquet_v2::kMetadataFile).string(), meta.dump(2) + "\n");
  out.commit();
  ckpt->remove();
  return rep;
}

}  // namespace arrowquant
