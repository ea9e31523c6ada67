// ArrowEngine: encode (a NumPy array that owns the C++ result: no copy), generate with a per-token
// callback, logits, perplexity. Each call releases the GIL while the model runs.
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "arrowquant/engine.h"
#include "arrowquant/error.h"
#include "arrowquant/perplexity.h"
#include "arrowquant/validate.h"
#include "python/bindings.h"

namespace aqpy {

using namespace arrowquant;

namespace {

struct PyEngine {
  std::unique_ptr<ArrowEngine> engine;
};

}  // namespace

EngineOptions engine_options(const std::string& weights, const std::string& activations,
                             const std::string& kernel_fallback, int threads) {
  EngineOptions o;
  o.weights = option_named<EngineOptions::Weights>(kWeightsNames, weights, "weights");
  o.activations = option_named<EngineOptions::Activations>(kActivationsNames, activations, "activations");
  o.kernel_fallback = option_named<EngineOptions::Activations>(kActivationsNames, kernel_fallback, "kernel_fallback");
  o.threads = threads;
  return o;
}

void bind_engine(nb::module_& m) {
  nb::class_<PyEngine>(m, "Engine", "A model opened for running (see arrowquant.ArrowEngine)")
      .def(
          "__init__",
          [](PyEngine* self, const std::string& path, const std::string& weights, const std::string& activations,
             const std::string& kernel_fallback, int threads) {
            const EngineOptions o = engine_options(weights, activations, kernel_fallback, threads);
            new (self) PyEngine{call_released("ConfigurationError", [&] { return std::make_unique<ArrowEngine>(path, o); })};
          },
          nb::arg("path"), nb::arg("weights") = "auto", nb::arg("activations") = "auto",
          nb::arg("kernel_fallback") = "auto", nb::arg("threads") = 0)
      .def_prop_ro("model_path", [](const PyEngine& e) { return e.engine->model_path(); })
      .def_prop_ro("architecture", [](const PyEngine& e) { return e.engine->architecture(); })
      .def_prop_ro("weights_kind", [](const PyEngine& e) { return e.engine->weights_kind(); })
      .def_prop_ro("is_decoder", [](const PyEngine& e) { return e.engine->is_decoder(); })
      .def_prop_ro("packed_weights", [](const PyEngine& e) { return e.engine->packed_weights(); })
      .def_prop_ro("embedding_dim", [](const PyEngine& e) { return e.engine->embedding_dim(); })
      .def_prop_ro("max_length", [](const PyEngine& e) { return e.engine->max_length(); })
      .def_prop_ro("vocab_size", [](const PyEngine& e) { return e.engine->is_decoder() ? e.engine->vocab_size() : 0; })
      .def_prop_ro("context_length", [](const PyEngine& e) { return e.engine->is_decoder() ? e.engine->context_length() : 0; })
      .def_prop_ro("kernel_notes", [](const PyEngine& e) { return e.engine->kernel_notes(); })
      .def(
          "encode",
          [](const PyEngine& e, const std::vector<std::string>& texts, int batch_size, nb::object progress) {
            ProgressCallback cb(std::move(progress));
            EncodeOptions o;
            o.batch_size = batch_size;
            o.progress = [&](size_t done, size_t total) {  // also where Ctrl-C is seen
              if (!cb(total ? double(done) / double(total) : 1.0, "encode", done == total))
                throw Interrupted("cancelled");
            };
            Embeddings out = call_released("ValidationError", [&] { return e.engine->encode(texts, o); });
            if (cb.interrupted()) raise_keyboard_interrupt();
            return owned_array(std::move(out.values), {size_t(out.rows), size_t(out.dim)});
          },
          nb::arg("texts"), nb::arg("batch_size") = 32, nb::arg("progress") = nb::none(),
          "Sentence embeddings [len(texts), dim], float32, in the order of texts (the C++ result, not copied)")
      .def(
          "logits",
          [](const PyEngine& e, const std::vector<int32_t>& ids) {
            std::vector<float> v = call_released("ValidationError", [&] { return e.engine->logits(ids); });
            return owned_array(std::move(v), {ids.size(), size_t(e.engine->vocab_size())});
          },
          nb::arg("ids"), "Logits [len(ids), vocab] at every position, from an empty cache")
      .def(
          "tokenize",
          [](const PyEngine& e, const std::vector<std::string>& texts) {
            return call_released("ValidationError", [&] { return e.engine->tokenize(texts); });
          },
          nb::arg("texts"))
      .def(
          "generate",
          [](const PyEngine& e, const std::string& prompt, int max_tokens, float temperature, int top_k, float top_p,
             uint64_t seed, const std::vector<std::string>& stop_tokens, nb::object on_token) {
            GenerateOptions o;
            o.max_tokens = max_tokens, o.temperature = temperature, o.top_k = top_k, o.top_p = top_p, o.seed = seed;
            o.stop_tokens = stop_tokens;
            bool interrupted = false;
            if (!on_token.is_none())
              o.on_token = [&](const std::string& text, int32_t id) {
                nb::gil_scoped_acquire gil;
                if (PyErr_CheckSignals() != 0) {
                  PyErr_Clear();
                  interrupted = true;
                  return false;
                }
                nb::object r = on_token(text, id);
                return r.is_none() || nb::cast<bool>(r);
              };
            GenerateResult r = call_released("ValidationError", [&] { return e.engine->generate(prompt, o); });
            if (interrupted) raise_keyboard_interrupt();
            nb::dict d;
            d["text"] = r.text, d["ids"] = r.ids, d["prompt_ids"] = r.prompt_ids, d["stop_reason"] = r.stop_reason;
            d["prefill_seconds"] = r.prefill_seconds, d["decode_seconds"] = r.decode_seconds;
            d["kv_cache_bytes"] = r.kv_cache_bytes;
            return d;
          },
          nb::arg("prompt"), nb::arg("max_tokens") = 128, nb::arg("temperature") = 0.8f, nb::arg("top_k") = 40,
          nb::arg("top_p") = 0.95f, nb::arg("seed") = 0, nb::arg("stop_tokens") = std::vector<std::string>{},
          nb::arg("on_token") = nb::none(),
          "Generates a continuation; on_token(text, id) is called with each new token (False stops)")
      .def(
          "perplexity",
          [](const PyEngine& e, const std::string& text, int64_t ctx, int64_t stride, size_t chunks, nb::object progress) {
            ProgressCallback cb(std::move(progress));
            PerplexityOptions o;
            o.ctx = ctx, o.stride = stride, o.max_chunks = chunks;
            o.progress = [&](size_t done, size_t total) {  // also where Ctrl-C is seen
              if (!cb(total ? double(done) / double(total) : 1.0, "perplexity", done == total))
                throw Interrupted("cancelled");
            };
            std::string r = call_released("ValidationError", [&] { return perplexity(*e.engine, text, o).to_json().dump(); });
            if (cb.interrupted()) raise_keyboard_interrupt();
            return r;
          },
          nb::arg("text"), nb::arg("ctx") = 512, nb::arg("stride") = 0, nb::arg("chunks") = 0,
          nb::arg("progress") = nb::none(),
          "Perplexity report of a text (llama.cpp's chunks by default), as JSON; progress(fraction, message) -> "
          "False cancels");

  m.def(
      "validate_encoders",
      [](const PyEngine& original, const PyEngine& quantized, const std::vector<std::string>& sentences,
         const std::string& stsb, size_t max_pairs, int batch_size) {
        ValidateOptions o;
        o.sentences = sentences, o.stsb_path = stsb, o.max_pairs = max_pairs, o.batch_size = batch_size;
        return call_released("ValidationError", [&] {
          return validate_encoders(*original.engine, *quantized.engine, o).to_json().dump();
        });
      },
      nb::arg("original"), nb::arg("quantized"), nb::arg("sentences"), nb::arg("stsb") = "",
      nb::arg("max_pairs") = 0, nb::arg("batch_size") = 32,
      "`arrowquant validate`'s report of a quantised encoder against its original, as JSON");
}

}  // namespace aqpy
