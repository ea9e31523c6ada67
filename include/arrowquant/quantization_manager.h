// QuantizationManager (the seed's API): quantises a model, tensor by tensor, into a model folder
// (model.parquet + metadata.json + the tokenizer/config files), loads quantised models back and
// reports what was done.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arrowquant/quant_config.h"
#include "arrowquant/weight_loader.h"

namespace arrowquant {

struct TensorReport {
  std::string name;
  Shape shape;
  std::string format;      // quant_type or the stored dtype
  int64_t group_size = 0;
  std::string rotation;    // the input space of its codes ("hadamard/576/seed 1"); "" when none
  int64_t num_params = 0;
  size_t stored_bytes = 0;
  double bits_per_weight = 0;
  double rel_rmse = -1, cosine = -1;  // < 0: not quantised
  std::string reason;
  // Calibrated runs: how the tensor was made and how far the layer output moved on the calibration
  // data (< 0: not measured), next to round-to-nearest at the same format.
  std::string method;
  double output_rel_mse = -1, output_cosine = -1, rtn_output_rel_mse = -1;
};

struct QuantizeReport {
  std::string source, source_kind, output;
  QuantConfig config;
  std::vector<TensorReport> tensors;
  size_t file_bytes = 0;       // model.parquet on disk
  size_t source_f16_bytes = 0; // what the float tensors take in FP16 (the usual baseline)
  double seconds = 0;
  nlohmann::json calibration;  // sequences, tokens, resumed blocks; null for uncalibrated runs
  nlohmann::json decisions = nlohmann::json::array();
  nlohmann::json to_json() const;
  std::string to_markdown() const;
};

struct ProgressEvent {
  size_t index, total;
  const std::string& tensor;
};
using ProgressFn = std::function<void(const ProgressEvent&)>;
using LogFn = std::function<void(const std::string&)>;

class QuantizationManager {
 public:
  explicit QuantizationManager(QuantConfig config) : config_(std::move(config)) {}
  const QuantConfig& config() const { return config_; }

  // Quantises `model_path` (any input TensorSource reads) into the folder `output_dir`. The folder
  // is built under a temporary name and renamed at the end: an interrupted run leaves nothing that
  // looks complete. overwrite: replace an existing output folder. Finished work is kept in
  // `<output>.checkpoint/` until the output is committed; resume: continue from it (the settings
  // must be the same) and produce the same model.parquet as an uninterrupted run.
  // log: decisions and calibration messages, one line each.
  QuantizeReport quantize(const std::string& model_path, const std::string& output_dir, bool overwrite = false,
                          const ProgressFn& progress = nullptr, bool resume = false, const LogFn& log = nullptr);

  static std::unique_ptr<WeightLoader> load_quantized(const std::string& path) { return WeightLoader::open(path); }
  // A report over an existing quantised file (what `inspect` shows).
  static QuantizeReport report(const WeightLoader& w);

 private:
  QuantConfig config_;
};

}  // namespace arrowquant
