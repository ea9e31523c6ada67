// arrowquant._core: the module, its error mapping and the progress callback shared by the bindings.
#include <chrono>

#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "arrowquant/error.h"
#include "kernels/cpu_targets.h"
#include "python/bindings.h"
#include "util/version.h"

namespace aqpy {

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

void raise_error(const char* cls, const std::string& message) {
  nb::object type = nb::module_::import_("arrowquant.errors").attr(cls);
  PyErr_SetString(type.ptr(), message.c_str());
  throw nb::python_error();
}

void raise_current(const char* value_error_class) {
  try {
    throw;
  } catch (const nb::python_error&) {
    throw;
  } catch (const arrowquant::ShapeError& e) {
    raise_error("ShapeMismatchError", e.what());
  } catch (const arrowquant::FormatError& e) {
    raise_error("ModelFormatError", e.what());
  } catch (const arrowquant::IoError& e) {
    raise_error("ModelIOError", e.what());
  } catch (const arrowquant::ValueError& e) {
    raise_error(value_error_class, e.what());
  } catch (const arrowquant::Interrupted& e) {
    raise_error("Cancelled", e.what());
  } catch (const std::bad_alloc&) {
    PyErr_NoMemory();
    throw nb::python_error();
  } catch (const std::exception& e) {
    raise_error("ArrowQuantError", e.what());
  }
}

void raise_keyboard_interrupt() {
  PyErr_SetNone(PyExc_KeyboardInterrupt);
  throw nb::python_error();
}

nb::ndarray<nb::numpy, float> owned_array(std::vector<float>&& values, const std::vector<size_t>& shape) {
  auto* v = new std::vector<float>(std::move(values));
  nb::capsule owner(v, [](void* p) noexcept { delete static_cast<std::vector<float>*>(p); });
  return nb::ndarray<nb::numpy, float>(v->data(), shape.size(), shape.data(), owner);
}

bool ProgressCallback::operator()(double fraction, const std::string& message, bool last) {
  if (cancelled_) return false;
  nb::gil_scoped_acquire gil;
  if (PyErr_CheckSignals() != 0) {  // Ctrl-C: the KeyboardInterrupt is raised once C++ has unwound
    PyErr_Clear();
    interrupted_ = cancelled_ = true;
    return false;
  }
  if (!cb_.is_valid() || cb_.is_none()) return true;
  const double t = now_seconds();
  if (!last && last_call_ >= 0 && t - last_call_ < interval_) return true;
  last_call_ = t;
  nb::object r = cb_(fraction, message);
  if (!r.is_none() && !nb::cast<bool>(r)) cancelled_ = true;
  return !cancelled_;
}

}  // namespace aqpy

NB_MODULE(_core, m) {
  m.doc() = "ArrowQuant's C++ library (the arrowquant package builds its API on this module)";
  m.attr("__version__") = ARROWQUANT_VERSION;
  m.def("cpu_targets", [] {
    nanobind::dict d;
    d["active"] = arrowquant::kernels::active_target();
    d["compiled"] = arrowquant::kernels::compiled_targets();
    d["features"] = arrowquant::kernels::cpu_features();
    return d;
  }, "The SIMD targets compiled in, the one this CPU runs, and the CPU's features");
  aqpy::bind_config(m);
  aqpy::bind_engine(m);
  aqpy::bind_quantize(m);
  aqpy::bind_weights(m);
  aqpy::bind_diffusion(m);
}
