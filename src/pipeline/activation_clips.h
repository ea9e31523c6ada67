// The static int8 clip of each block Linear's input per timestep group (arrowquant/time_group_clips.h),
// chosen from what the Linears see while the quantised block runs on the calibration states: per
// group, of fractions of the largest |x|, the clip with the least squared rounding error. (Weighing
// each channel's error by its weight column's ‖W[:, c]‖², the Linear's output error, measured no
// different on the Fashion DiT: 0.0371 vs 0.0372 mean noise error at 10 groups.)
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/linear.h"

namespace arrowquant {

class ActivationClipObserver : public LinearObserver {
 public:
  explicit ActivationClipObserver(int64_t groups);
  // The inputs observed from now on belong to timestep group `group`.
  void begin_sequence(int64_t group) { group_ = group; }
  void observe(const Linear& l, const float* x, int64_t n) override;
  // The clip per group of every Linear observed; a group no state fell into takes the nearest
  // group's clip (more groups than calibration timesteps).
  std::map<std::string, std::vector<float>> clips() const;
  // The entropy (bits, at most 7) of each Linear's int8 input magnitude codes per group, rounded at
  // the group's own largest |x|: how much of an 8-bit static code the group's inputs use (the
  // "thermodynamic" analysis of the diffusion seed, per time group). -1 for a group without inputs.
  std::map<std::string, std::vector<double>> code_entropies() const;

 private:
  struct Group {
    float max_abs = 0;
    std::vector<float> sample;  // |x| at every stride-th value seen: a bounded, even sample
    int64_t stride = 1, seen = 0;
  };
  int64_t groups_, group_ = 0;
  std::map<std::string, std::vector<Group>> by_linear_;
};

}  // namespace arrowquant
