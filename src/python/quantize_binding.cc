// QuantizationManager.quantize and report: the GIL released for the run, progress and log lines
// handed to Python on the way, cancellation (the callback's False, Ctrl-C) leaving nothing on disk.
#include <filesystem>

#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "arrowquant/quant_options.h"

#include "arrowquant/error.h"
#include "arrowquant/compare.h"
#include "arrowquant/quantization_manager.h"
#include "arrowquant/sensitivity.h"
#include "io/calibration_text.h"
#include "python/bindings.h"

namespace aqpy {

using namespace arrowquant;

namespace {

// Log lines go to Python's logging ("arrowquant" logger, INFO), with the GIL taken for each.
LogFn python_log() {
  return [](const std::string& line) {
    nb::gil_scoped_acquire gil;
    nb::module_::import_("logging").attr("getLogger")("arrowquant").attr("info")(line);
  };
}

std::string quantize(const QuantConfig& cfg, const std::string& model, const std::string& out, bool overwrite,
                     bool resume, nb::object progress) {
  ProgressCallback cb(std::move(progress));
  QuantizationManager mgr(cfg);
  const ProgressFn fn = [&](const ProgressEvent& e) {
    const double fraction = e.total ? double(e.index) / double(e.total) : 1.0;
    if (!cb(fraction, e.tensor, e.index == e.total))
      throw Interrupted("cancelled: " + out + " was not written");
  };
  try {
    nb::gil_scoped_release release;
    const QuantizeReport r = mgr.quantize(model, out, overwrite, fn, resume, python_log());
    cb(1.0, "done", true);
    return r.to_json().dump();
  } catch (const Interrupted&) {
    if (cb.cancelled()) {  // asked for: nothing is kept, not even the resumable checkpoint
      std::error_code ec;
      std::filesystem::remove_all(out + ".checkpoint", ec);
    }
    if (cb.interrupted()) raise_keyboard_interrupt();
    raise_current("QuantizationError");
  } catch (const nb::python_error&) {
    throw;
  } catch (...) {
    raise_current("QuantizationError");
  }
}

}  // namespace

void bind_quantize(nb::module_& m) {
  m.def("quantize", &quantize, nb::arg("config"), nb::arg("model"), nb::arg("output"), nb::arg("overwrite") = false,
        nb::arg("resume") = false, nb::arg("progress") = nb::none(),
        "Quantises a model into a model folder; returns the report as JSON. progress(fraction, tensor) -> "
        "False cancels (nothing is left on disk)");
  m.def(
      "analyze",
      [](const std::string& model, const QuantConfig& cfg, const std::vector<int>& widths) {
        return call_released("QuantizationError", [&] {
          return analyze_sensitivity(model, cfg, widths, python_log()).to_json().dump();
        });
      },
      nb::arg("model"), nb::arg("config"), nb::arg("widths"),
      "`arrowquant analyze`: every tensor's error at each width (output error with calibration text), as JSON");
  m.def(
      "compare",
      [](const std::string& model, const QuantConfig& base, const std::vector<std::string>& methods,
         const std::vector<int>& widths, const std::string& workdir, const std::vector<std::string>& sentences,
         const std::string& eval_text, int64_t ctx, size_t chunks) {
        CompareOptions o;
        o.methods.clear();
        for (const auto& name : methods) {
          Method m;
          bool found = false;
          for (const auto& n : kMethodNames)
            if (n.name == name) m = Method(n.value), found = true;
          if (!found) raise_error("ConfigurationError", "unknown method '" + name + "' (rtn, gptq, awq, smoothquant, ...)");
          o.methods.push_back(m);
        }
        o.bits = widths, o.base = base, o.workdir = workdir, o.sentences = sentences, o.eval_text = eval_text;
        o.ctx = ctx, o.max_chunks = chunks, o.log = python_log();
        return call_released("QuantizationError", [&] { return compare_methods(model, o).to_json().dump(); });
      },
      nb::arg("model"), nb::arg("base"), nb::arg("methods"), nb::arg("widths"), nb::arg("workdir"),
      nb::arg("sentences"), nb::arg("eval_text"), nb::arg("ctx") = 256, nb::arg("chunks") = 0,
      "`arrowquant compare`: each method at each width, quantised and measured in one run, as JSON");
  m.def(
      "calibration_documents",
      [](const std::string& path) {
        return call_released("CalibrationError", [&] { return read_calibration_documents(path); });
      },
      nb::arg("path"), "The documents of a calibration file (.txt: one per line; .jsonl: a \"text\" field)");
  m.def(
      "report",
      [](const std::string& path) {
        return call_released("ValidationError", [&] {
          auto w = QuantizationManager::load_quantized(path);
          return QuantizationManager::report(*w).to_json().dump();
        });
      },
      nb::arg("path"), "The report of an existing quantised model (what `arrowquant inspect` shows), as JSON");
}

}  // namespace aqpy
