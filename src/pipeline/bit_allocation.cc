#include "pipeline/bit_allocation.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "arrowquant/error.h"
#include "arrowquant/sensitivity.h"
#include "pipeline/model_session.h"

namespace arrowquant {

nlohmann::json allocate_bits(ModelSession& session, const QuantConfig& cfg, std::vector<TensorPlan>& plans,
                             const std::function<void(const std::string&)>& log) {
  const std::vector<int> widths = cfg.allocation_widths();
  if (log) {
    std::string text;
    for (int w : widths) text += (text.empty() ? "" : ", ") + std::to_string(w);
    log("bit allocation: measuring sensitivity at widths " + text);
  }
  const SensitivityReport rep = analyze_sensitivity(session, cfg, widths, log);
  const auto& infos = session.source().tensors();
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < infos.size(); ++i) index[infos[i].name] = i;

  const double budget = cfg.target_size_mb > 0 ? cfg.target_size_mb * 1e6 : cfg.target_bpw * double(rep.total_params) / 8;
  // model.parquet also holds its footer, statistics and metadata: about 1.7 kB per tensor measured
  // on MiniLM (104 tensors, 170 kB); count 2 kB per tensor and 16 kB more so the file lands under.
  const double container = 16e3 + 2e3 * double(infos.size());
  double fixed = double(rep.fixed_bytes) + container;
  // Tensors the allocation may change, and their weight: what one unit of a tensor's cost() does to
  // the model's output.
  struct Member {
    const TensorSensitivity* t;
    size_t plan;
    double weight;
  };
  std::vector<Member> members;
  for (const auto& t : rep.tensors) {
    const size_t i = index.at(t.name);
    if (plans[i].reason.rfind("pinned", 0) == 0) {  // the user's pins are not negotiable
      fixed += double(t.at(plans[i].format->bits)->bytes);
      continue;
    }
    members.push_back({&t, i, 1.0});
  }
  // Each tensor's error weighed by the model-output divergence it caused when probed alone (so a
  // layer the network amplifies, or an embedding that is also the head, counts as much as it hurts).
  // A tensor the probes do not reach (an encoder's position table) counts like the most sensitive
  // one probed. Without calibration text every tensor's relative error counts the same.
  if (rep.probe_tokens > 0) {
    double most = 0;
    for (const auto& m : members) most = std::max(most, m.t->divergence_per_cost);
    for (auto& m : members) m.weight = m.t->divergence_per_cost >= 0 ? m.t->divergence_per_cost : most;
  }
  // What the allocation chooses a width for: one tensor, or with --fuse-siblings the Linears that
  // read one input together. choice indexes widths.
  struct Item {
    std::vector<const Member*> members;
    size_t choice = 0;
    double bytes(size_t c) const {
      double b = 0;
      for (const Member* m : members) b += double(m->t->widths[c].bytes);
      return b;
    }
    double cost(size_t c) const {  // weighted
      double e = 0;
      for (const Member* m : members) e += m->weight * m->t->widths[c].cost();
      return e;
    }
  };
  std::vector<Item> items;
  std::map<std::string, size_t> item_of_input;
  for (const auto& m : members) {
    const std::string& in = m.t->shared_input;
    if (cfg.fuses_siblings() && !in.empty()) {
      auto [it, fresh] = item_of_input.emplace(in, items.size());
      if (fresh) items.emplace_back();
      items[it->second].members.push_back(&m);
    } else {
      items.emplace_back();
      items.back().members.push_back(&m);
    }
  }
  double used = fixed;
  for (const auto& it : items) used += it.bytes(0);
  if (used > budget) {
    char buf[256];
    snprintf(buf, sizeof buf, "the target of %.2f MB (%.3f bits/weight) is below the %.2f MB that INT%d everywhere needs",
             budget / 1e6, budget * 8 / double(rep.total_params), used / 1e6, widths.front());
    throw ValueError(buf);
  }
  // Greedy: repeatedly take the upgrade with the largest weighted error drop per extra byte that
  // still fits.
  for (;;) {
    double best_gain = 0;
    size_t best_item = 0, best_choice = 0;
    for (size_t k = 0; k < items.size(); ++k) {
      const auto& it = items[k];
      const double cur_bytes = it.bytes(it.choice), cur_cost = it.cost(it.choice);
      for (size_t c = it.choice + 1; c < widths.size(); ++c) {
        const double extra = it.bytes(c) - cur_bytes;
        if (extra <= 0 || used + extra > budget) continue;
        const double gain = (cur_cost - it.cost(c)) / extra;
        if (gain > best_gain) { best_gain = gain; best_item = k; best_choice = c; }
      }
    }
    if (best_gain <= 0) break;
    auto& it = items[best_item];
    used += it.bytes(best_choice) - it.bytes(it.choice);
    it.choice = best_choice;
  }
  nlohmann::json decisions = nlohmann::json::array();
  std::map<int, int64_t> params_at;
  double predicted = 0;
  for (const auto& it : items)
    for (const Member* m : it.members) {
      const WidthSensitivity& w = m->t->widths[it.choice];
      TensorPlan& p = plans[m->plan];
      p.quantize = true;
      p.format = cfg.format_for(w.bits, m->t->shape.back());
      p.reason = "allocated INT" + std::to_string(w.bits) + (it.members.size() > 1 ? " with its siblings" : "");
      params_at[w.bits] += m->t->params;
      nlohmann::json d = {{"tensor", m->t->name}, {"decision", p.reason}, {"bits", w.bits}, {"bytes", w.bytes}};
      if (w.output_cosine >= 0) d["predicted_output_cosine"] = w.output_cosine;
      if (m->t->probe_divergence >= 0) {
        d["predicted_divergence"] = m->weight * w.cost();  // this tensor's share, to first order
        predicted += m->weight * w.cost();
      }
      decisions.push_back(d);
    }
  if (log) {
    char buf[256];
    snprintf(buf, sizeof buf, "bit allocation: %.2f MB of %.2f MB budget (%.3f bits/weight)", used / 1e6, budget / 1e6,
             used * 8 / double(rep.total_params));
    log(buf);
    for (auto& [bits, n] : params_at) log("  INT" + std::to_string(bits) + ": " + std::to_string(n) + " weights");
    if (rep.probe_tokens > 0) {
      snprintf(buf, sizeof buf, "  predicted model divergence (sum of the probed tensors' shares): %.4g", predicted);
      log(buf);
    }
  }
  return decisions;
}

}  // namespace arrowquant
