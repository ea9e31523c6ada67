#include "arrowquant/compare.h"

#include <cmath>
#include <filesystem>

#include "arrowquant/engine.h"
#include "arrowquant/error.h"
#include "arrowquant/perplexity.h"
#include "arrowquant/quantization_manager.h"
#include "arrowquant/tensor_source.h"
#include "util/units.h"
#include "arrowquant/validate.h"
#include "reports/chart.h"

namespace fs = std::filesystem;

namespace arrowquant {

namespace {

uint64_t fp32_bytes(const std::string& path) {
  auto src = open_tensor_source(path);
  uint64_t n = 0;
  for (const auto& t : src->tensors()) n += uint64_t(num_elements(t.shape)) * 4;
  return n;
}

}  // namespace

CompareReport compare_methods(const std::string& model_path, const CompareOptions& o) {
  if (o.methods.empty() || o.bits.empty()) throw ValueError("compare needs at least one method and one width");
  if (o.workdir.empty()) throw ValueError("compare needs a work folder for the quantised models");
  CompareReport rep;
  rep.model = model_path;
  rep.fp32_weight_bytes = fp32_bytes(model_path);
  EngineOptions eo;
  eo.threads = o.threads;
  ArrowEngine base(model_path, eo);
  rep.kind = base.is_decoder() ? "decoder" : "encoder";
  if (rep.kind == "decoder" && o.eval_text.empty())
    throw ValueError("comparing decoders needs evaluation text (--eval FILE) for perplexity and KL");
  if (rep.kind == "encoder" && o.sentences.empty()) throw ValueError("comparing encoders needs sentences (--eval FILE)");
  auto say = [&](const std::string& s) { if (o.log) o.log(s); };
  fs::create_directories(o.workdir);
  for (int bits : o.bits) {
    for (const Method m : o.methods) {
      const std::string method = method_name(m);
      CompareRow row;
      row.method = method;
      row.bits = bits;
      const std::string out = (fs::path(o.workdir) / (method + "-int" + std::to_string(bits))).string();
      try {
        if (m == Method::SmoothQuant && bits != 8) throw ValueError("smoothquant is W8A8 only");
        QuantConfig cfg = o.base;
        cfg.method = m;
        cfg.bits = bits;
        cfg.threads = o.threads;
        say("quantizing " + method + " INT" + std::to_string(bits));
        QuantizeReport qr = QuantizationManager(cfg).quantize(model_path, out, true);
        row.quant_seconds = qr.seconds;
        row.file_bytes = qr.file_bytes;
        row.bits_per_weight = qr.to_json().value("bits_per_weight", 0.0);
        row.compression_vs_fp32 = double(rep.fp32_weight_bytes) / double(qr.file_bytes);
        row.memory_saving = 1.0 - double(qr.file_bytes) / double(rep.fp32_weight_bytes);
        say("evaluating " + method + " INT" + std::to_string(bits));
        EngineOptions qo = eo;
        ArrowEngine q(out, qo);
        if (rep.kind == "encoder") {
          ValidateOptions vo;
          vo.sentences = o.sentences;
          ValidateReport v = validate_encoders(base, q, vo);
          row.cos_mean = v.cos_mean;
          row.cos_min = v.cos_min;
        } else {
          PerplexityOptions po;
          po.ctx = o.ctx;
          po.max_chunks = o.max_chunks;
          PerplexityReport p = perplexity(q, o.eval_text, po, &base);
          row.ppl = p.ppl;
          row.kl_mean = p.kl_mean;
          row.top1 = p.top1_agreement;
          rep.base_ppl = p.base_ppl;
        }
      } catch (const Error& e) {
        row.error = e.what();
        say(method + " INT" + std::to_string(bits) + ": " + row.error);
      }
      if (!o.keep) {
        std::error_code ec;
        fs::remove_all(out, ec);
      }
      rep.rows.push_back(row);
    }
  }
  return rep;
}

nlohmann::json CompareReport::to_json() const {
  nlohmann::json rows_j = nlohmann::json::array();
  for (const auto& r : rows) {
    nlohmann::json j = {{"method", r.method}, {"bits", r.bits}};
    if (!r.error.empty()) { j["error"] = r.error; rows_j.push_back(j); continue; }
    j.update({{"file_bytes", r.file_bytes}, {"bits_per_weight", r.bits_per_weight},
              {"compression_vs_fp32", r.compression_vs_fp32}, {"memory_saving", r.memory_saving},
              {"quant_seconds", r.quant_seconds}});
    if (r.cos_mean >= 0) { j["embedding_cosine_mean"] = r.cos_mean; j["embedding_cosine_min"] = r.cos_min; }
    if (r.ppl >= 0) { j["ppl"] = r.ppl; j["kl_mean"] = r.kl_mean; j["top1_agreement"] = r.top1; }
    rows_j.push_back(j);
  }
  nlohmann::json j = {{"model", model}, {"kind", kind}, {"fp32_weight_bytes", fp32_weight_bytes}, {"rows", rows_j}};
  if (base_ppl >= 0) j["fp32_ppl"] = base_ppl;
  return j;
}

std::string CompareReport::to_markdown() const {
  std::string s = "## Method comparison: " + model + "\n\n";
  char buf[512];
  if (kind == "encoder") {
    s += "| method | bits | file | bits/weight | vs FP32 | memory saved | cosine mean | cosine min | time |\n"
         "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  } else {
    snprintf(buf, sizeof buf, "FP32 perplexity %.4f.\n\n", base_ppl);
    s += buf;
    s += "| method | bits | file | bits/weight | vs FP32 | memory saved | perplexity | KL mean | top-1 | time |\n"
         "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  }
  for (const auto& r : rows) {
    if (!r.error.empty()) {
      snprintf(buf, sizeof buf, "| %s | %d | %s |\n", r.method.c_str(), r.bits, r.error.c_str());
      s += buf;
      continue;
    }
    const std::string size = human_bytes(double(r.file_bytes));
    if (kind == "encoder")
      snprintf(buf, sizeof buf, "| %s | %d | %s | %.3f | %.2fx | %.1f%% | %.4f | %.4f | %.1f s |\n", r.method.c_str(),
               r.bits, size.c_str(), r.bits_per_weight, r.compression_vs_fp32, 100 * r.memory_saving, r.cos_mean,
               r.cos_min, r.quant_seconds);
    else
      snprintf(buf, sizeof buf, "| %s | %d | %s | %.3f | %.2fx | %.1f%% | %.4f | %.5f | %.3f | %.1f s |\n",
               r.method.c_str(), r.bits, size.c_str(), r.bits_per_weight, r.compression_vs_fp32,
               100 * r.memory_saving, r.ppl, r.kl_mean, r.top1, r.quant_seconds);
    s += buf;
  }
  return s;
}

void CompareReport::write_png(const std::string& path) const {
  std::vector<ChartSeries> series;
  for (const auto& r : rows) {
    if (!r.error.empty()) continue;
    auto it = std::find_if(series.begin(), series.end(), [&](const ChartSeries& s) { return s.name == r.method; });
    if (it == series.end()) { series.push_back({r.method, {}, {}}); it = series.end() - 1; }
    it->x.push_back(r.bits_per_weight);
    it->y.push_back(kind == "encoder" ? r.cos_mean : r.kl_mean);
  }
  if (kind == "encoder")
    write_line_chart_png(path, "Embedding cosine vs FP32: " + model, "bits per weight (whole file)",
                         "mean embedding cosine", series, false);
  else
    write_line_chart_png(path, "KL divergence from FP32: " + model, "bits per weight (whole file)",
                         "mean KL (nats/token, log scale)", series, true);
}

}  // namespace arrowquant
