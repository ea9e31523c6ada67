#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "arrowquant/error.h"
#include "util/clock.h"
#include "util/units.h"
#include "arrowquant/validate.h"
#include "eval/sts.h"
#include "eval/statistics.h"

namespace fs = std::filesystem;

namespace arrowquant {

uint64_t model_weight_bytes(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return fs::file_size(path, ec);
  uint64_t total = 0;
  for (const auto& e : fs::directory_iterator(path, ec)) {
    std::string ext = e.path().extension().string();
    if (e.is_regular_file() && (ext == ".parquet" || ext == ".safetensors" || ext == ".bin"))
      total += e.file_size();
  }
  return total;
}

namespace {

struct LayerAccumulator {
  double sum = 0, min = 1;
  size_t n = 0;
};

}  // namespace

ValidateReport validate_encoders(const ArrowEngine& original, const ArrowEngine& quantized,
                                 const ValidateOptions& opts) {
  if (original.embedding_dim() != quantized.embedding_dim() || original.num_layers() != quantized.num_layers())
    throw ValueError("the two models differ in shape: " + std::to_string(original.num_layers()) + " layers × " +
                     std::to_string(original.embedding_dim()) + " vs " + std::to_string(quantized.num_layers()) +
                     " layers × " + std::to_string(quantized.embedding_dim()));
  if (opts.batch_size < 1) throw ValueError("batch size must be at least 1");
  const double t0 = now_seconds();

  std::vector<StsPair> pairs;
  if (!opts.stsb_path.empty()) {
    pairs = read_sts_tsv(opts.stsb_path);
    if (opts.max_pairs > 0 && pairs.size() > opts.max_pairs) pairs.resize(opts.max_pairs);
  }
  // One list of texts: the cosine sentences, then the STS-B sentences when they are extra.
  std::vector<std::string> texts = opts.sentences;
  const bool cos_on_stsb = texts.empty();
  const size_t sts_base = texts.size();
  for (const auto& p : pairs) {
    texts.push_back(p.a);
    texts.push_back(p.b);
  }
  if (texts.empty()) throw ValueError("no sentences to validate on (give sentences or an STS-B file)");
  const size_t n_cos = cos_on_stsb ? texts.size() : sts_base;

  std::vector<std::vector<int32_t>> ids = original.tokenize(texts);
  if (quantized.tokenize({texts.front()}) != std::vector<std::vector<int32_t>>{ids.front()} ||
      original.max_length() != quantized.max_length())
    throw ValueError("the two models do not tokenise alike; compare a quantised model with its own original");

  std::vector<size_t> order(texts.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ids[a].size() > ids[b].size(); });
  const int64_t dim = original.embedding_dim();
  std::vector<float> emb_o(texts.size() * size_t(dim)), emb_q(emb_o.size());
  std::vector<LayerAccumulator> layer_acc(size_t(original.num_layers() + 1));

  for (size_t start = 0; start < order.size(); start += size_t(opts.batch_size)) {
    size_t end = std::min(order.size(), start + size_t(opts.batch_size));
    std::vector<std::vector<int32_t>> batch;
    bool want_layers = false;
    for (size_t i = start; i < end; ++i) {
      batch.push_back(ids[order[i]]);
      want_layers |= order[i] < n_cos;
    }
    EncodedBatch ro = original.encode_ids(batch, want_layers);
    EncodedBatch rq = quantized.encode_ids(batch, want_layers);
    for (size_t i = start; i < end; ++i) {
      const int64_t b = int64_t(i - start);
      std::copy(ro.embeddings.row(b), ro.embeddings.row(b) + dim, emb_o.begin() + int64_t(order[i]) * dim);
      std::copy(rq.embeddings.row(b), rq.embeddings.row(b) + dim, emb_q.begin() + int64_t(order[i]) * dim);
      if (order[i] >= n_cos || !want_layers) continue;
      for (size_t l = 0; l < ro.layers.size(); ++l)
        for (int64_t t = 0; t < ro.lengths[size_t(b)]; ++t) {
          const int64_t off = (b * ro.seq_len + t) * dim;
          double c = cosine(ro.layers[l].data() + off, rq.layers[l].data() + off, dim);
          layer_acc[l].sum += c;
          layer_acc[l].min = std::min(layer_acc[l].min, c);
          ++layer_acc[l].n;
        }
    }
    if (opts.progress) opts.progress(end, order.size());
  }

  ValidateReport r;
  r.original = original.model_path();
  r.quantized = quantized.model_path();
  r.original_bytes = model_weight_bytes(original.model_path());
  r.quantized_bytes = model_weight_bytes(quantized.model_path());
  r.sentences = n_cos;
  std::vector<double> cos(n_cos);
  for (size_t i = 0; i < n_cos; ++i)
    cos[i] = cosine(emb_o.data() + i * size_t(dim), emb_q.data() + i * size_t(dim), dim);
  r.cos_mean = std::accumulate(cos.begin(), cos.end(), 0.0) / double(n_cos);
  r.cos_min = *std::min_element(cos.begin(), cos.end());
  r.cos_p5 = percentile(cos, 5);
  for (size_t l = 0; l < layer_acc.size(); ++l)
    r.layers.push_back({int(l), layer_acc[l].n ? layer_acc[l].sum / double(layer_acc[l].n) : 0.0,
                        layer_acc[l].n ? layer_acc[l].min : 0.0});
  if (!pairs.empty()) {
    std::vector<double> gold, so, sq;
    for (size_t i = 0; i < pairs.size(); ++i) {
      const size_t a = sts_base + 2 * i, b = a + 1;
      gold.push_back(pairs[i].score);
      so.push_back(cosine(emb_o.data() + a * size_t(dim), emb_o.data() + b * size_t(dim), dim));
      sq.push_back(cosine(emb_q.data() + a * size_t(dim), emb_q.data() + b * size_t(dim), dim));
    }
    r.stsb_pairs = pairs.size();
    r.spearman_original = spearman(so, gold);
    r.spearman_quantized = spearman(sq, gold);
  }
  r.seconds = now_seconds() - t0;
  return r;
}

nlohmann::json ValidateReport::to_json() const {
  nlohmann::json j;
  j["original"] = {{"path", original}, {"weight_bytes", original_bytes}};
  j["quantized"] = {{"path", quantized}, {"weight_bytes", quantized_bytes}};
  j["embedding_cosine"] = {{"sentences", sentences}, {"mean", cos_mean}, {"min", cos_min}, {"p5", cos_p5}};
  j["layers"] = nlohmann::json::array();
  for (const auto& l : layers)
    j["layers"].push_back({{"layer", l.layer}, {"mean_cosine", l.mean_cosine}, {"min_cosine", l.min_cosine}});
  if (stsb_pairs > 0)
    j["stsb"] = {{"pairs", stsb_pairs}, {"spearman_original", spearman_original},
                 {"spearman_quantized", spearman_quantized}, {"delta", spearman_quantized - spearman_original}};
  j["seconds"] = seconds;
  return j;
}

std::string ValidateReport::to_markdown() const {
  char buf[512];
  std::string s = "## Encoder validation\n\n";
  snprintf(buf, sizeof buf, "- original: `%s` (%s)\n- quantized: `%s` (%s)\n\n", original.c_str(),
           human_bytes(double(original_bytes)).c_str(), quantized.c_str(), human_bytes(double(quantized_bytes)).c_str());
  s += buf;
  s += "| metric | value |\n|---|---|\n";
  snprintf(buf, sizeof buf,
           "| sentences | %zu |\n| embedding cosine, mean | %.5f |\n| embedding cosine, 5th percentile | %.5f |\n"
           "| embedding cosine, min | %.5f |\n",
           sentences, cos_mean, cos_p5, cos_min);
  s += buf;
  if (stsb_pairs > 0) {
    snprintf(buf, sizeof buf,
             "| STS-B pairs | %zu |\n| STS-B Spearman, original | %.4f |\n| STS-B Spearman, quantized | %.4f |\n"
             "| STS-B Spearman change | %+.4f |\n",
             stsb_pairs, spearman_original, spearman_quantized, spearman_quantized - spearman_original);
    s += buf;
  }
  s += "\n| layer output | mean token cosine | min token cosine |\n|---|---|---|\n";
  for (const auto& l : layers) {
    snprintf(buf, sizeof buf, "| %s | %.5f | %.5f |\n",
             l.layer == 0 ? "embeddings" : ("layer " + std::to_string(l.layer)).c_str(), l.mean_cosine, l.min_cosine);
    s += buf;
  }
  snprintf(buf, sizeof buf, "\n%.1f s\n", seconds);
  s += buf;
  return s;
}

}  // namespace arrowquant
