#include "pipeline/output_probe.h"

#include <cmath>
#include <memory>

#include "arrowquant/error.h"

namespace arrowquant {

namespace {
double output_cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) ab += double(a[i]) * b[i], aa += double(a[i]) * a[i], bb += double(b[i]) * b[i];
  return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0);
}
}  // namespace

OutputProbe::OutputProbe(CalibrationModel& m, const std::vector<std::vector<int32_t>>& seqs, int64_t max_tokens)
    : m_(m) {
  for (const auto& s : seqs) {
    if (!seqs_.empty() && tokens_ + int64_t(s.size()) > max_tokens) break;
    seqs_.push_back(s);
    tokens_ += int64_t(s.size());
  }
  if (seqs_.empty()) throw ValueError("output probes need at least one calibration sequence");
  const int64_t B = m.blocks();
  for (int64_t b = 0; b < B; ++b)
    for (Linear* l : m.linears(b)) linears_[l->name + ".weight"] = {b, l};
  for (const auto& s : seqs_) {
    std::vector<float> x = m.embed(s);
    std::vector<std::vector<float>> per_block;
    for (int64_t b = 0; b < B; ++b) {
      per_block.push_back(x);
      m.run_block(b, x.data(), int64_t(s.size()));
    }
    per_block.push_back(x);  // the last block's output: where an untied head's probe starts
    base_.push_back(m.output(x.data(), int64_t(s.size())));
    states_.push_back(std::move(per_block));
  }
}

bool OutputProbe::covers(const std::string& tensor) const {
  return linears_.count(tensor) || m_.table(tensor) != nullptr;
}

void OutputProbe::set_time_groups(int64_t groups) {
  groups_ = {};
  group_of_seq_.clear();
  group_divergence_.clear();
  m_.check_time_groups(groups);
  if (groups <= 0) return;
  groups_.train_timesteps = m_.train_timesteps();
  groups_.groups = groups;
  for (const auto& s : seqs_) group_of_seq_.push_back(groups_.group_of(m_.timestep_of(s)));
}

double OutputProbe::run_from(int64_t from, const std::vector<std::vector<float>>* x_from) {
  double total = 0, cosine = 0;
  std::vector<double> by_group(size_t(groups_.groups), 0.0), count(size_t(groups_.groups), 0.0);
  for (size_t s = 0; s < seqs_.size(); ++s) {
    const int64_t T = int64_t(seqs_[s].size());
    std::vector<float> x = x_from ? (*x_from)[s] : states_[s][size_t(from)];
    for (int64_t b = from; b < m_.blocks(); ++b) m_.run_block(b, x.data(), T);
    const std::vector<float> out = m_.output(x.data(), T);
    const double d = m_.divergence(base_[s], out);
    total += d;
    if (track_cosine_) cosine += output_cosine(base_[s], out);
    if (!group_of_seq_.empty()) {
      by_group[size_t(group_of_seq_[s])] += d;
      count[size_t(group_of_seq_[s])] += m_.divergence_per_token() ? double(T) : 1.0;
    }
  }
  if (track_cosine_) last_cosine_ = cosine / double(seqs_.size());
  group_divergence_.assign(by_group.size(), -1.0);
  for (size_t g = 0; g < by_group.size(); ++g)
    if (count[g] > 0) group_divergence_[g] = by_group[g] / count[g];
  return total / double(m_.divergence_per_token() ? tokens_ : int64_t(seqs_.size()));
}

void OutputProbe::advance_past(int64_t b) {
  if (b < 0 || b >= m_.blocks()) throw Error("internal: no block " + std::to_string(b) + " to advance past");
  for (size_t s = 0; s < seqs_.size(); ++s) {
    std::vector<float> x = states_[s][size_t(b)];
    m_.run_block(b, x.data(), int64_t(seqs_[s].size()));
    states_[s][size_t(b + 1)] = std::move(x);
  }
}

double OutputProbe::divergence(const std::string& tensor, const std::vector<float>& values) {
  if (auto it = linears_.find(tensor); it != linears_.end()) {
    Linear& l = *it->second.second;
    if (values.size() != size_t(l.out * l.in)) throw Error("internal: probe values do not fit " + tensor);
    const auto saved = l.weight;
    l.weight = std::make_shared<const std::vector<float>>(values);
    double d = 0;
    try {
      d = run_from(it->second.first, nullptr);
    } catch (...) {
      l.weight = saved;
      throw;
    }
    l.weight = saved;
    return d;
  }
  const auto saved = m_.table(tensor);
  if (!saved) throw Error("internal: no probe for " + tensor);
  if (values.size() != saved->size()) throw Error("internal: probe values do not fit " + tensor);
  m_.set_table(tensor, std::make_shared<const std::vector<float>>(values));
  double d = 0;
  try {
    // Where the embeddings these sequences read are unchanged (an untied head), the blocks' states
    // are too: only the output is rerun.
    std::vector<std::vector<float>> x0;
    bool same = true;
    for (size_t s = 0; s < seqs_.size(); ++s) {
      x0.push_back(m_.embed(seqs_[s]));
      same = same && x0.back() == states_[s][0];
    }
    d = same ? run_from(m_.blocks(), nullptr) : run_from(0, &x0);
  } catch (...) {
    m_.set_table(tensor, saved);
    throw;
  }
  m_.set_table(tensor, saved);
  return d;
}

}  // namespace arrowquant
