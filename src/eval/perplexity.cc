#include "arrowquant/perplexity.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "arrowquant/error.h"
#include "tokenizers/text_tokenizer.h"
#include "util/clock.h"
#include "util/units.h"
#include "util/interrupt.h"
#include "arrowquant/validate.h"
#include "eval/statistics.h"

namespace arrowquant {

namespace {

// log-softmax of one row, in double.
void log_softmax(const float* x, int64_t n, std::vector<double>& out) {
  out.resize(size_t(n));
  const float mx = *std::max_element(x, x + n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(double(x[i]) - mx);
  const double lse = double(mx) + std::log(sum);
  for (int64_t i = 0; i < n; ++i) out[size_t(i)] = double(x[i]) - lse;
}

// One evaluation window: the ids to run and which positions' predictions are scored.
struct Window {
  std::vector<int32_t> ids;
  std::vector<int32_t> targets;  // targets[j]: the token position j predicts, -1 when unscored
};

std::vector<Window> make_windows(const std::vector<int32_t>& toks, const PerplexityOptions& o, int32_t bos) {
  std::vector<Window> w;
  const int64_t n = int64_t(toks.size()), ctx = o.ctx;
  if (o.stride == 0) {
    const int64_t chunks = n / ctx;
    for (int64_t c = 0; c < chunks; ++c) {
      Window win;
      win.ids.assign(toks.begin() + c * ctx, toks.begin() + (c + 1) * ctx);
      if (bos >= 0) win.ids[0] = bos;
      win.targets.assign(size_t(ctx), -1);
      for (int64_t j = ctx / 2; j + 1 < ctx; ++j) win.targets[size_t(j)] = toks[size_t(c * ctx + j + 1)];
      w.push_back(std::move(win));
      if (o.max_chunks && w.size() >= o.max_chunks) break;
    }
    return w;
  }
  int64_t prev_end = 0;
  for (int64_t begin = 0; begin < n - 1; begin += o.stride) {
    const int64_t end = std::min(begin + ctx, n);
    Window win;
    win.ids.assign(toks.begin() + begin, toks.begin() + end);
    win.targets.assign(win.ids.size(), -1);
    // score targets in [max(prev_end, begin + 1), end)
    for (int64_t t = std::max(prev_end, begin + 1); t < end; ++t) win.targets[size_t(t - begin - 1)] = toks[size_t(t)];
    prev_end = end;
    w.push_back(std::move(win));
    if (end == n || (o.max_chunks && w.size() >= o.max_chunks)) break;
  }
  return w;
}

}  // namespace

PerplexityReport perplexity(const ArrowEngine& model, const std::string& text, const PerplexityOptions& o,
                            const ArrowEngine* base) {
  if (o.ctx < 2) throw ValueError("context must be at least 2 tokens");
  if (o.ctx > model.context_length())
    throw ValueError("context " + std::to_string(o.ctx) + " is longer than the model's " +
                     std::to_string(model.context_length()) + " positions");
  if (o.stride < 0 || o.stride > o.ctx) throw ValueError("stride must be between 1 and the context");
  if (base && base->vocab_size() != model.vocab_size())
    throw ValueError("the base model's vocabulary (" + std::to_string(base->vocab_size()) + ") differs from the model's (" +
                     std::to_string(model.vocab_size()) + ")");
  const double t0 = now_seconds();
  const TextTokenizer& tok = model.text_tokenizer();
  std::vector<int32_t> toks = tok.encode(text, tok.adds_bos());
  if (int64_t(toks.size()) < o.ctx)
    throw ValueError("the text has " + std::to_string(toks.size()) + " tokens, fewer than the context of " +
                     std::to_string(o.ctx) + "; give more text or a smaller --ctx");
  const int32_t bos = tok.adds_bos() ? tok.bos_id() : -1;
  std::vector<Window> windows = make_windows(toks, o, bos);

  PerplexityReport r;
  r.model = model.model_path();
  r.method = o.stride == 0 ? "llama.cpp (non-overlapping chunks, second half scored)" : "sliding window";
  r.ctx = o.ctx;
  r.stride = o.stride;
  r.text_tokens = toks.size();
  r.chunks = windows.size();
  r.kv_cache = o.kv.name();
  r.kv_cache_plan = o.kv.describe();
  r.kv_cache_bytes = model.kv_cache_bytes(o.ctx, o.kv);
  double nll = 0, base_nll = 0;
  size_t agree = 0;
  std::vector<double> kls, lp, lq;
  const int64_t V = model.vocab_size();
  for (size_t wi = 0; wi < windows.size(); ++wi) {
    const Window& w = windows[wi];
    std::vector<float> logits = model.logits(w.ids, o.kv);
    std::vector<float> base_logits = base ? base->logits(w.ids) : std::vector<float>();
    for (size_t j = 0; j < w.targets.size(); ++j) {
      const int32_t target = w.targets[j];
      if (target < 0) continue;
      log_softmax(logits.data() + int64_t(j) * V, V, lq);
      nll -= lq[size_t(target)];
      ++r.scored;
      if (base) {
        log_softmax(base_logits.data() + int64_t(j) * V, V, lp);
        base_nll -= lp[size_t(target)];
        double kl = 0;
        for (int64_t v = 0; v < V; ++v) kl += std::exp(lp[size_t(v)]) * (lp[size_t(v)] - lq[size_t(v)]);
        kls.push_back(std::max(0.0, kl));
        agree += std::max_element(lp.begin(), lp.end()) - lp.begin() == std::max_element(lq.begin(), lq.end()) - lq.begin();
      }
    }
    if (o.progress) o.progress(wi + 1, windows.size());
    if (interrupt_requested()) throw Interrupted("interrupted");
  }
  if (r.scored == 0) throw ValueError("no token was scored: the text is too short for this context and stride");
  r.nll = nll / double(r.scored);
  r.ppl = std::exp(r.nll);
  if (base) {
    r.base = base->model_path();
    r.base_ppl = std::exp(base_nll / double(r.scored));
    double sum = 0;
    for (double k : kls) sum += k;
    r.kl_mean = sum / double(kls.size());
    r.kl_median = percentile(kls, 50);
    r.kl_p99 = percentile(kls, 99);
    r.kl_max = *std::max_element(kls.begin(), kls.end());
    r.top1_agreement = double(agree) / double(kls.size());
  }
  r.seconds = now_seconds() - t0;
  return r;
}

nlohmann::json PerplexityReport::to_json() const {
  nlohmann::json j = {{"model", model}, {"method", method}, {"ctx", ctx}, {"stride", stride},
                      {"text_tokens", text_tokens}, {"chunks", chunks}, {"scored_tokens", scored},
                      {"perplexity", ppl}, {"mean_nll", nll}, {"kv_cache", kv_cache}, {"kv_cache_plan", kv_cache_plan},
                      {"kv_cache_bytes", kv_cache_bytes}, {"seconds", seconds}};
  if (!base.empty())
    j["against_base"] = {{"base", base}, {"base_perplexity", base_ppl}, {"perplexity_change", ppl - base_ppl},
                         {"perplexity_change_percent", 100.0 * (ppl - base_ppl) / base_ppl},
                         {"kl_mean", kl_mean}, {"kl_median", kl_median}, {"kl_p99", kl_p99}, {"kl_max", kl_max},
                         {"top1_agreement", top1_agreement}};
  return j;
}

std::string PerplexityReport::to_markdown() const {
  char b[512];
  std::string s = "## Perplexity\n\n| metric | value |\n|---|---|\n";
  snprintf(b, sizeof b,
           "| model | `%s` |\n| method | %s |\n| context / stride | %lld / %lld |\n| tokens scored | %zu (%zu chunks) |\n"
           "| perplexity | %.4f |\n| KV cache | %s, %s |\n",
           model.c_str(), method.c_str(), (long long)ctx, (long long)stride, scored, chunks, ppl, kv_cache_plan.c_str(),
           human_bytes(double(kv_cache_bytes)).c_str());
  s += b;
  if (!base.empty()) {
    snprintf(b, sizeof b,
             "| base | `%s` |\n| base perplexity | %.4f |\n| perplexity change | %+.4f (%+.2f %%) |\n"
             "| KL divergence mean / median / p99 / max | %.6f / %.6f / %.6f / %.6f |\n| top-1 agreement | %.4f |\n",
             base.c_str(), base_ppl, ppl - base_ppl, 100.0 * (ppl - base_ppl) / base_ppl, kl_mean, kl_median, kl_p99,
             kl_max, top1_agreement);
    s += b;
  }
  snprintf(b, sizeof b, "\n%.1f s\n", seconds);
  return s + b;
}

}  // namespace arrowquant
