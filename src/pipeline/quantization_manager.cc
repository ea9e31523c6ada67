#include "arrowquant/quantization_manager.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "arrowquant/error.h"
#include "io/parquet_v2_schema.h"
#include "io/parquet_v2_writer.h"
#include "pipeline/serving_constraints.h"
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
#include "pipeline/recorded_inputs.h"
#include "pipeline/checkpoint.h"
#include "pipeline/model_session.h"

namespace fs = std::filesystem;

namespace arrowquant {

nlohmann::json QuantizeReport::to_json() const {
  nlohmann::json ts = nlohmann::json::array();
  for (const auto& t : tensors) {
    nlohmann::json j = {{"name", t.name}, {"shape", t.shape}, {"format", t.format},
                        {"group_size", t.group_size}, {"num_params", t.num_params},
                        {"bytes", t.stored_bytes}, {"bits_per_weight", t.bits_per_weight}};
    if (t.rel_rmse >= 0) { j["rel_rmse"] = t.rel_rmse; j["cosine"] = t.cosine; }
    if (!t.rotation.empty()) j["rotation"] = t.rotation;
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
  if (!t.rotation.is_none()) r.rotation = describe(t.rotation);
  r.num_params = t.num_params;
  r.stored_bytes = t.stored_bytes();
  r.bits_per_weight = t.bits_per_weight();
  r.rel_rmse = t.rel_rmse;
  r.cosine = t.cosine;
  return r;
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

namespace {

DType stored_float_type(DType t) { return t == DType::F64 ? DType::F32 : t; }

std::vector<uint8_t> to_bytes(DType t, const std::vector<float>& v) {
  std::vector<uint8_t> bytes(v.size() * dtype_size(t));
  convert_from_f32(t, v.data(), v.size(), bytes.data());
  return bytes;
}

// One quantisation run: the model opened once, planned, optionally allocated and calibrated, then
// written tensor by tensor into a folder that is renamed into place only when complete.
class QuantizationRun {
 public:
  QuantizationRun(const QuantConfig& cfg, const std::string& model_path, const std::string& output_dir, bool overwrite,
                  bool resume, const ProgressFn& progress, const LogFn& log)
      : cfg_(cfg), model_path_(model_path), output_dir_(output_dir), overwrite_(overwrite), resume_(resume),
        progress_(progress), log_(log), t0_(now_seconds()), session_(model_path) {}

  QuantizeReport run() {
    try {
      return run_steps();
    } catch (const Interrupted&) {
      throw;  // the checkpoint stays: --resume continues from it
    } catch (const IoError&) {
      if (ckpt_ && log_) log_("the finished work stays in " + ckpt_->dir() + ": rerun with --resume once the problem is fixed");
      throw;
    } catch (...) {
      // Bad input fails the same way again: leave nothing behind.
      if (ckpt_ && ckpt_->created()) ckpt_->remove();
      throw;
    }
  }

 private:
  QuantizeReport run_steps() {
    if (cfg_.rotation == RotationChoice::Residual) {
      session_.rotate_residual(uint64_t(cfg_.rotation_seed), cfg_.rotation_block);
      if (log_) log_("residual stream rotated: " + describe(session_.source().residual_rotation()) +
                     " (norms folded into q/k/v and gate/up; o and down rotated per layer)");
    }
    const auto& infos = session_.source().tensors();
    if (infos.empty()) throw FormatError(model_path_ + ": the model holds no tensors");
    // Plan everything before writing anything, so bad settings fail fast.
    for (const auto& t : infos) plans_.push_back(plan_tensor(t, cfg_));
    check_serving_constraints(infos, plans_, cfg_, session_.source().model_config());
    // The output folder is prepared before any work so that an unwritable destination fails first;
    // an error later removes it again.
    AtomicDir out(output_dir_, overwrite_);
    if (cfg_.target_bpw > 0 || cfg_.target_size_mb > 0) {
      decisions_ = allocate_bits(session_, cfg_, plans_, log_);
      check_serving_constraints(infos, plans_, cfg_, session_.source().model_config());
    }
    if (cfg_.uses_calibration()) calibrate();
    open_checkpoint();

    const std::string parquet_path = (fs::path(out.temp_path()) / parquet_v2::kWeightsFile).string();
    ParquetV2Writer writer(parquet_path, cfg_.chunk_bytes);
    rep_.source = model_path_;
    rep_.source_kind = session_.source().kind();
    rep_.output = output_dir_;
    rep_.config = cfg_;
    for (size_t i = 0; i < infos.size(); ++i) {
      if (interrupt_requested()) throw Interrupted("interrupted: no output was written");
      if (progress_) progress_({i, infos.size(), infos[i].name});
      rep_.tensors.push_back(write_tensor(writer, i));
      if (dtype_is_float(infos[i].dtype)) rep_.source_f16_bytes += size_t(rep_.tensors.back().num_params) * 2;
    }
    if (progress_) progress_({infos.size(), infos.size(), ""});
    const FileMetadata file_meta = file_metadata();
    writer.close(file_meta);
    write_companions(out.temp_path(), file_meta.model_config);
    rep_.decisions = decisions_;
    rep_.file_bytes = size_t(fs::file_size(parquet_path));
    rep_.seconds = now_seconds() - t0_;
    write_metadata_copy(out.temp_path(), file_meta, writer.format_version());
    out.commit();
    ckpt_->remove();
    return std::move(rep_);
  }

  const Checkpoint* open_checkpoint() {
    if (!ckpt_) {
      const auto& infos = session_.source().tensors();
      nlohmann::json plans = nlohmann::json::object();
      for (size_t i = 0; i < infos.size(); ++i)
        if (plans_[i].quantize) plans[infos[i].name] = {std::string(plans_[i].format->name), plans_[i].group_size};
      const nlohmann::json manifest = {{"source", fs::absolute(model_path_).string()},
                                       {"config", cfg_.to_json()},
                                       {"plans", plans},
                                       {"tool_version", ARROWQUANT_VERSION}};
      ckpt_.emplace(output_dir_, manifest, resume_);
    }
    return &*ckpt_;
  }

  void calibrate() {
    std::map<std::string, TensorPlan> by_name;
    const auto& infos = session_.source().tensors();
    for (size_t i = 0; i < infos.size(); ++i) by_name[infos[i].name] = plans_[i];
    std::string label;
    BlockProgress bp = nullptr;
    if (progress_) bp = [&](int64_t done, int64_t total, const std::string& what) {
      label = "calibrate " + what;
      progress_({size_t(done), size_t(total), label});
    };
    const bool recorded = is_recorded_inputs(cfg_.calibration);
    calib_ = recorded ? quantize_from_recorded_inputs(session_.source(), cfg_, by_name, log_, bp)
                      : quantize_calibrated(session_, cfg_, by_name, [this] { return open_checkpoint(); }, log_, bp);
    for (auto& d : calib_.decisions) decisions_.push_back(d);
    rep_.calibration = {{"file", cfg_.calibration}, {"sequences", calib_.sequences}, {"tokens", calib_.tokens},
                        {"resumed_blocks", calib_.resumed_blocks}};
    if (recorded) rep_.calibration["recorded_inputs"] = calib_.tensors.size();
  }

  TensorReport write_tensor(ParquetV2Writer& writer, size_t i) {
    const SourceTensorInfo& info = session_.source().tensors()[i];
    const TensorPlan& plan = plans_[i];
    TensorReport tr;
    tr.name = info.name;
    tr.shape = info.shape;
    tr.num_params = num_elements(info.shape);
    tr.reason = plan.reason;
    if (auto it = calib_.tensors.find(info.name); plan.quantize && it != calib_.tensors.end()) {
      const CalibratedTensor& ct = it->second;
      // Against the float weight it was made from: with folded scales (AWQ, SmoothQuant) that is not
      // the source weight, and the source weight is no longer what the model multiplies by.
      write_quantized(writer, info, ct.tensor, ct.weight, tr);
      tr.method = ct.method;
      tr.output_rel_mse = ct.error.rel_mse;
      tr.output_cosine = ct.error.cosine;
      tr.rtn_output_rel_mse = ct.rtn_rel_mse;
    } else if (auto fl = calib_.floats.find(info.name); fl != calib_.floats.end()) {
      // A float tensor the calibrated run changed (a norm that absorbed AWQ/SmoothQuant scales).
      const DType keep = stored_float_type(info.dtype);
      if (!dtype_is_float(keep)) throw FormatError(info.name + ": changed by calibration but not a float tensor");
      write_raw(writer, info, keep, to_bytes(keep, fl->second), tr);
      tr.reason = "changed by calibration (folded scales or bias correction)";
    } else if (!plan.quantize) {
      write_kept(writer, info, tr);
    } else {
      write_rtn(writer, info, plan, i, tr);
    }
    tr.bits_per_weight = tr.num_params ? 8.0 * double(tr.stored_bytes) / double(tr.num_params) : 0;
    return tr;
  }

  void write_quantized(ParquetV2Writer& writer, const SourceTensorInfo& info, const QuantizedTensor& q,
                       const WeightError& err, TensorReport& tr) {
    writer.write_quantized(q, info.dtype, RowStats{true, err.rel_rmse, err.cosine});
    tr.format = std::string(q.format->name);
    tr.group_size = q.geom.group_size;
    if (!q.rotation.is_none()) tr.rotation = describe(q.rotation);
    tr.stored_bytes = q.stored_bytes();
    tr.rel_rmse = err.rel_rmse;
    tr.cosine = err.cosine;
  }

  void write_raw(ParquetV2Writer& writer, const SourceTensorInfo& info, DType t, const std::vector<uint8_t>& bytes,
                 TensorReport& tr) {
    writer.write_raw(info.name, t, info.shape, bytes.data());
    tr.format = std::string(dtype_name(t));
    tr.stored_bytes = bytes.size();
  }

  // A tensor stored as it is (norms, biases, integer tensors, pinned float).
  void write_kept(ParquetV2Writer& writer, const SourceTensorInfo& info, TensorReport& tr) {
    if (!dtype_is_float(info.dtype)) return write_raw(writer, info, info.dtype, session_.source().read_raw(info.name), tr);
    FloatTensor f = session_.source().read_f32(info.name);
    if (int64_t bad = first_nonfinite(f.values.data(), f.values.size()); bad >= 0 && !cfg_.allow_nonfinite)
      throw ValueError("tensor " + info.name + " has a non-finite value at flat index " + std::to_string(bad) +
                       " (pass --allow-nonfinite to store it anyway)");
    const DType keep = stored_float_type(info.dtype);
    write_raw(writer, info, keep, to_bytes(keep, f.values), tr);
  }

  // Round to nearest (the whole run's method, or a tensor outside the calibrated blocks); each
  // result is a checkpoint piece of its own.
  void write_rtn(ParquetV2Writer& writer, const SourceTensorInfo& info, const TensorPlan& plan, size_t i,
                 TensorReport& tr) {
    FloatTensor f = session_.source().read_f32(info.name);
    if (cfg_.allow_nonfinite) {
      size_t fixed = 0;
      for (auto& v : f.values)
        if (!std::isfinite(v)) v = 0, ++fixed;
      if (fixed)
        decisions_.push_back({{"tensor", info.name}, {"decision", "replaced " + std::to_string(fixed) + " non-finite values by 0"}});
    }
    const std::string key = "tensor_" + std::to_string(i);
    QuantizedTensor q;
    if (auto piece = ckpt_->load(key); piece && piece->quantized.size() == 1) {
      q = std::move(piece->quantized[0]);
    } else {
      q = quantize_rtn(f, {plan.format, plan.group_size, cfg_.clip, cfg_.threads, plan.rotation});
      CheckpointPiece p;
      p.quantized.push_back(q);
      ckpt_->save(key, p);
    }
    const std::vector<float> back = dequantize(q);
    write_quantized(writer, info, q, weight_error(f.values.data(), back.data(), back.size()), tr);
  }

  FileMetadata file_metadata() const {
    FileMetadata m;
    m.source_kind = session_.source().kind();
    m.model_config = session_.source().model_config();
    m.residual_rotation = session_.source().residual_rotation();
    m.quant_config = cfg_.to_json();
    m.decisions = decisions_;
    if (cfg_.method == Method::SmoothQuant) m.activations = "int8";  // its scales were chosen for int8
    m.time_groups = calib_.time_groups;
    return m;
  }

  // Config and tokenizer files, so that the folder is a complete model.
  void write_companions(const std::string& dir, const nlohmann::json& model_cfg) const {
    for (const auto& f : session_.source().companion_files()) {
      fs::path rel = fs::path(f).filename();
      if (fs::path(f).parent_path().filename() == "1_Pooling") rel = fs::path("1_Pooling") / rel;
      fs::create_directories((fs::path(dir) / rel).parent_path());
      std::error_code ec;
      fs::copy_file(f, fs::path(dir) / rel, fs::copy_options::overwrite_existing, ec);
      if (ec) throw IoError("cannot copy " + f + " into the output: " + ec.message());
    }
    for (const auto& f : session_.source().made_companions())
      write_text_file((fs::path(dir) / f.name).string(), std::string(f.bytes.begin(), f.bytes.end()));
    if (!fs::exists(fs::path(dir) / "config.json") && !model_cfg.empty())
      write_text_file((fs::path(dir) / "config.json").string(), model_cfg.dump(2) + "\n");
  }

  // A readable copy of what the file carries, with the report; the runtime never reads it.
  void write_metadata_copy(const std::string& dir, const FileMetadata& file_meta, int format_version) const {
    nlohmann::json meta = rep_.to_json();
    meta[parquet_v2::key::kFormatVersion] = std::to_string(format_version);
    meta[parquet_v2::key::kToolVersion] = ARROWQUANT_VERSION;
    meta[parquet_v2::key::kScaleDtype] = "float16";
    if (!file_meta.activations.empty()) meta[parquet_v2::key::kActivations] = file_meta.activations;
    if (!file_meta.time_groups.empty()) meta[parquet_v2::key::kTimeGroups] = file_meta.time_groups.to_json();
    meta["decisions"] = decisions_;
    meta["output"] = output_dir_;
    write_text_file((fs::path(dir) / parquet_v2::kMetadataFile).string(), meta.dump(2) + "\n");
  }

  const QuantConfig& cfg_;
  const std::string &model_path_, &output_dir_;
  const bool overwrite_, resume_;
  const ProgressFn& progress_;
  const LogFn& log_;
  const double t0_;
  ModelSession session_;  // the model, opened once for the whole run
  std::vector<TensorPlan> plans_;
  nlohmann::json decisions_ = nlohmann::json::array();
  std::optional<Checkpoint> ckpt_;
  CalibrationResult calib_;
  QuantizeReport rep_;
};

}  // namespace

QuantizeReport QuantizationManager::quantize(const std::string& model_path, const std::string& output_dir,
                                             bool overwrite, const ProgressFn& progress, bool resume, const LogFn& log) {
  validate(config_);
  return QuantizationRun(config_, model_path, output_dir, overwrite, resume, progress, log).run();
}

}  // namespace arrowquant
