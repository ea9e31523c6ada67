// The resumable part of a quantisation run. Each finished unit of work (a calibrated block, or one
// tensor of the final pass) is saved as one file in `<output>.checkpoint/`, written atomically, so a
// run killed at any moment leaves only whole pieces. A rerun with --resume loads them instead of
// recomputing; the manifest must match the run's source and settings.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arrowquant/packed_tensor.h"

namespace arrowquant {

struct CheckpointPiece {
  std::vector<QuantizedTensor> quantized;
  std::map<std::string, std::vector<float>> floats;  // float tensors changed by the run (folded norms)
  std::vector<std::vector<float>> activations;       // calibration state after a block
  nlohmann::json decisions = nlohmann::json::array();
  nlohmann::json info = nlohmann::json::object();
};

class Checkpoint {
 public:
  // resume=false discards any earlier checkpoint at that place. resume=true keeps it when its
  // manifest equals `manifest`, and throws ValueError saying what differs otherwise.
  Checkpoint(const std::string& output_dir, const nlohmann::json& manifest, bool resume);
  const std::string& dir() const { return dir_; }
  std::optional<CheckpointPiece> load(const std::string& key) const;
  void save(const std::string& key, const CheckpointPiece& piece) const;
  int resumed_pieces() const { return resumed_; }
  // Whether this run started the checkpoint (false: it continues one from an earlier run).
  bool created() const { return created_; }
  void remove();  // after the output is committed

 private:
  std::string dir_;
  mutable int resumed_ = 0;
  bool created_ = false;
};

}  // namespace arrowquant
