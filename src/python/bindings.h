// The Python extension arrowquant._core (nanobind): the C++ library's public API, bound thinly. The
// Python package (python/arrowquant/) builds the seeds' API on top of it. Every long call releases
// the GIL; progress callbacks run with it held, throttled, and cancel the work by returning False
// (Ctrl-C cancels the same way: the callback checks Python's pending signals).
#pragma once
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include "arrowquant/engine.h"
#include "arrowquant/settings.h"

namespace arrowquant {
class WeightLoader;
}

namespace aqpy {

namespace nb = nanobind;

void bind_config(nb::module_& m);
void bind_engine(nb::module_& m);
void bind_quantize(nb::module_& m);
void bind_weights(nb::module_& m);
void bind_diffusion(nb::module_& m);

// What a failed call raises: the C++ exception mapped onto arrowquant.errors, a ValueError in the
// context of `value_error_class` ("ConfigurationError", "QuantizationError", ...). Call inside a
// catch block, with the GIL held.
[[noreturn]] void raise_current(const char* value_error_class);
// Raises arrowquant.errors.<cls>(message); the GIL must be held.
[[noreturn]] void raise_error(const char* cls, const std::string& message);

// The enum value named `text` in `names`; ConfigurationError listing the names otherwise.
template <class E>
E option_named(std::span<const arrowquant::EnumOption> names, const std::string& text, const char* what) {
  for (const auto& n : names)
    if (n.name == text) return E(n.value);
  std::string known;
  for (const auto& n : names) known += (known.empty() ? "" : ", ") + std::string(n.name);
  raise_error("ConfigurationError", std::string(what) + " '" + text + "' is not one of " + known);
}
// The engine options of every model-running class, from their Python names.
arrowquant::EngineOptions engine_options(const std::string& weights, const std::string& activations,
                                         const std::string& kernel_fallback, int threads);

// Ctrl-C seen by a callback: KeyboardInterrupt, raised once the C++ call has unwound.
[[noreturn]] void raise_keyboard_interrupt();

// The weights table as a PyCapsule "arrow_array_stream" whose tensor bytes are views of the loader's
// memory (src/python/weights_arrow.cc); `owner` (the Python WeightLoader) is kept alive by the stream.
nb::object weights_arrow_stream(const arrowquant::WeightLoader& w, nb::handle owner);

// A float32 NumPy array of `shape` that owns `values` (moved into a capsule, never copied).
nb::ndarray<nb::numpy, float> owned_array(std::vector<float>&& values, const std::vector<size_t>& shape);

// Runs fn with the GIL released and raises its C++ errors as Python exceptions (see raise_current).
template <class Fn>
auto call_released(const char* value_error_class, Fn&& fn) -> decltype(fn()) {
  try {
    nb::gil_scoped_release release;
    return fn();
  } catch (const nb::python_error&) {
    throw;
  } catch (...) {
    raise_current(value_error_class);
  }
}

// A Python progress callback cb(fraction, message) called from C++ worker code: throttled to one call
// per `interval` seconds (the last always goes through), with the GIL held. Every call (throttled or
// not, with or without cb) checks for Ctrl-C. Returns false when the work must stop: cb returned
// False, or Ctrl-C (the KeyboardInterrupt is raised by the binding once the C++ call has unwound).
class ProgressCallback {
 public:
  explicit ProgressCallback(nb::object cb, double interval = 0.1) : cb_(std::move(cb)), interval_(interval) {}
  bool operator()(double fraction, const std::string& message, bool last = false);
  bool cancelled() const { return cancelled_; }
  bool interrupted() const { return interrupted_; }

 private:
  nb::object cb_;
  double interval_, last_call_ = -1;
  bool cancelled_ = false, interrupted_ = false;
};

}  // namespace aqpy
