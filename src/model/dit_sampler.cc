#include "model/dit_sampler.h"

#include <algorithm>
#include <cmath>

#include "arrowquant/error.h"
#include "util/interrupt.h"

namespace arrowquant {

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

void gaussian_noise(uint64_t seed, uint64_t stream, float* out, int64_t count) {
  const uint64_t base = splitmix64(seed ^ splitmix64(stream));
  for (int64_t i = 0; i < count; i += 2) {
    const uint64_t a = splitmix64(base + uint64_t(i)), b = splitmix64(base + uint64_t(i) + 1);
    // 53-bit uniforms in (0, 1]: log never sees 0.
    const double u1 = (double(a >> 11) + 1.0) * 0x1.0p-53, u2 = double(b >> 11) * 0x1.0p-53;
    const double r = std::sqrt(-2.0 * std::log(u1)), th = 2.0 * M_PI * u2;
    out[i] = float(r * std::cos(th));
    if (i + 1 < count) out[i + 1] = float(r * std::sin(th));
  }
}

std::vector<float> dit_guided_noise(const DitTransformer& dit, const float* x, int64_t batch, float t,
                                    const std::vector<int32_t>& labels, float guidance) {
  const int64_t per = dit.config().image_values();
  if (guidance == 1.0f) return dit.forward(x, batch, std::vector<float>(size_t(batch), t), labels);
  // The conditional and the unconditional halves in one batch.
  std::vector<float> input(size_t(2 * batch * per));
  std::copy(x, x + batch * per, input.begin());
  std::copy(x, x + batch * per, input.begin() + batch * per);
  std::vector<int32_t> both = labels;
  both.resize(size_t(2 * batch), int32_t(dit.config().num_classes));
  std::vector<float> eps = dit.forward(input.data(), 2 * batch, std::vector<float>(size_t(2 * batch), t), both);
  for (int64_t i = 0; i < batch * per; ++i) {
    const float u = eps[size_t(batch * per + i)];
    eps[size_t(i)] = u + guidance * (eps[size_t(i)] - u);
  }
  eps.resize(size_t(batch * per));
  return eps;
}

Images dit_sample(const DitTransformer& dit, const NoiseSchedule& schedule, const std::vector<int32_t>& labels,
                  const SampleOptions& opts) {
  const DitConfig& c = dit.config();
  const int64_t n = int64_t(labels.size()), per = c.image_values();
  for (int32_t y : labels)
    if (y < 0 || y > c.num_classes)
      throw ValueError("class " + std::to_string(y) + " out of range: the model has classes 0.." +
                       std::to_string(c.num_classes - 1) + " (" + std::to_string(c.num_classes) + " = unconditional)");
  if (opts.batch_size < 1) throw ValueError("batch size must be at least 1");
  if (!std::isfinite(opts.guidance) || opts.guidance < 0) throw ValueError("guidance scale must be >= 0");
  if (!opts.initial_noise.empty() && int64_t(opts.initial_noise.size()) != n * per)
    throw ValueError("initial noise holds " + std::to_string(opts.initial_noise.size()) + " values, expected " +
                     std::to_string(n * per) + " (" + std::to_string(n) + " images)");
  const std::vector<int64_t> ts = schedule.timesteps(opts.steps);
  Images out{n, c.in_channels, c.sample_size, c.sample_size, std::vector<float>(size_t(n * per))};
  int64_t done = 0;
  const int64_t total = int64_t(ts.size()) * ((n + opts.batch_size - 1) / opts.batch_size);
  std::vector<float> noise;
  for (int64_t start = 0; start < n; start += opts.batch_size) {
    const int64_t B = std::min(opts.batch_size, n - start);
    float* x = out.values.data() + start * per;
    if (opts.initial_noise.empty()) {
      for (int64_t i = 0; i < B; ++i) gaussian_noise(opts.seed, uint64_t(start + i), x + i * per, per);
    } else {
      std::copy(opts.initial_noise.begin() + start * per, opts.initial_noise.begin() + (start + B) * per, x);
    }
    const std::vector<int32_t> batch_labels(labels.begin() + start, labels.begin() + start + B);
    noise.resize(size_t(B * per));
    for (size_t step = 0; step < ts.size(); ++step) {
      if (interrupt_requested()) throw Interrupted("interrupted while sampling");
      const int64_t t = ts[step];
      if (opts.on_step) opts.on_step(int64_t(step), start, B, x);
      const std::vector<float> eps = dit_guided_noise(dit, x, B, float(t), batch_labels, opts.guidance);
      if (opts.sampler == SamplerKind::Ddim) {
        schedule.ddim_step(t, opts.steps, eps.data(), x, B * per);
      } else {
        for (int64_t i = 0; i < B; ++i)
          gaussian_noise(opts.seed, (uint64_t(step) + 1) << 32 | uint64_t(start + i), noise.data() + i * per, per);
        schedule.ddpm_step(t, opts.steps, eps.data(), noise.data(), x, B * per);
      }
      if (opts.progress) opts.progress(++done, total);
    }
  }
  return out;
}

}  // namespace arrowquant
