// How far the model's output moves when one tensor alone is replaced by quantised values, on a few
// calibration sequences: the end-to-end weight the bit allocation gives each tensor's own error
// (a layer's relative output error says nothing of how much the rest of the network amplifies it,
// and an embedding's weight error nothing of what it does as a tied head).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "arrowquant/time_group_clips.h"
#include "model/calibration_model.h"

namespace arrowquant {

class OutputProbe {
 public:
  // Runs the float model once on the first sequences, up to max_tokens tokens, keeping every block's
  // input states and the outputs. The model must hold its float weights (nothing swapped yet).
  OutputProbe(CalibrationModel& m, const std::vector<std::vector<int32_t>>& seqs, int64_t max_tokens);

  int64_t tokens() const { return tokens_; }
  // True for a block Linear's weight ("<linear>.weight") and for the model's tables.
  bool covers(const std::string& tensor) const;
  // The model's divergence from its float self (per token for a decoder, per sequence for an
  // encoder) with `tensor` alone holding `values` (same shape, model space); the float weight is
  // put back before it returns.
  double divergence(const std::string& tensor, const std::vector<float>& values);

  // A diffusion model's states cut into `groups` equal ranges of timesteps (0: none): divergence()
  // then also keeps the mean divergence of each group's states (group_divergence(); -1 for a group
  // with no state among the probed ones).
  void set_time_groups(int64_t groups);
  int64_t time_groups() const { return groups_.groups; }
  const std::vector<double>& group_divergence() const { return group_divergence_; }
  // Calibration replaces blocks by their quantised selves in order: block b's cached input states
  // become what the model now makes of them (blocks before it quantised, as calibration leaves them),
  // so that divergence() of a tensor in block b measures it on top of the quantised blocks before.
  void advance_past(int64_t b);
  // With track_cosine(), the mean cosine between the model's outputs and its float outputs in the
  // last divergence() call (a diffusion model's noise prediction: what --min-accuracy measures there);
  // off by default, as allocation's probes of a decoder's [T, vocab] outputs do not need it.
  void track_cosine() { track_cosine_ = true; }
  double last_cosine() const { return last_cosine_; }

 private:
  // Runs blocks [from, blocks) on each sequence's states at `from` (x_from supplies them when given,
  // else the cached ones) and returns the mean divergence from the float outputs.
  double run_from(int64_t from, const std::vector<std::vector<float>>* x_from);

  CalibrationModel& m_;
  std::vector<std::vector<int32_t>> seqs_;
  std::vector<std::vector<std::vector<float>>> states_;  // [sequence][block]: the block's float input
  std::vector<std::vector<float>> base_;                 // [sequence]: the float model's output
  std::map<std::string, std::pair<int64_t, Linear*>> linears_;  // weight name -> (block, layer)
  int64_t tokens_ = 0;
  TimeGroupClips groups_;                                // only its grouping of timesteps is used
  std::vector<int64_t> group_of_seq_;                    // [sequence]: its time group
  std::vector<double> group_divergence_;                 // [group]: of the last divergence() call
  bool track_cosine_ = false;
  double last_cosine_ = 1;
};

}  // namespace arrowquant
