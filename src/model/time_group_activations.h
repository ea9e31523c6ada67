// Static int8 activations chosen by timestep (arrowquant/time_group_clips.h) at run time: each
// Linear named in the clips rounds its input to the int8 grid of its clip for the group of the
// timestep of the image the row belongs to, before its product. The products themselves run on the
// float-activation kernels (the rounding is exactly what a static-int8 kernel would see: a
// simulation of such hardware, for accuracy, not a speed-up).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "arrowquant/time_group_clips.h"
#include "model/linear.h"

namespace arrowquant {

class TimeGroupActivations : public InputQuantizer {
 public:
  explicit TimeGroupActivations(TimeGroupClips clips);
  const TimeGroupClips& clips() const { return clips_; }

  // While one is alive on this thread, the inputs of a forward pass over images with these
  // timesteps are rounded: of a Linear's n rows, the first n/count belong to image 0, and so on.
  class Batch {
   public:
    Batch(const TimeGroupActivations& a, const std::vector<float>& timesteps);
    ~Batch();
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;

   private:
    const std::vector<int64_t>* saved_;
    std::vector<int64_t> groups_;
  };

  // out[n, l.in] = x clamped to ±clip and rounded to clip/127 steps, clip of l's group per row; x
  // unchanged outside a Batch. Error when n is not a multiple of the batch's images.
  void quantize(const Linear& l, const float* x, int64_t n, float* out) const override;

 private:
  TimeGroupClips clips_;
};

// Attaches `a` to every Linear of `linears` that it has clips for; FormatError naming the first
// clip whose Linear is not among them (a file made for another model).
void attach_time_group_activations(const std::shared_ptr<const TimeGroupActivations>& a,
                                   const std::vector<Linear*>& linears, const std::string& file);

}  // namespace arrowquant
