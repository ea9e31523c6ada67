// WeightLoader and safetensors files as read-only NumPy views of their memory maps: each array holds
// a reference to the Python object that owns the map, so the map outlives every view. Arrays are
// handed out as bytes; python/arrowquant/weights.py gives them their dtype and shape (still views).
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "arrowquant/error.h"
#include "arrowquant/weight_loader.h"
#include "io/safetensors_reader.h"
#include "python/bindings.h"

namespace aqpy {

using namespace arrowquant;

namespace {

using ByteView = nb::ndarray<nb::numpy, const uint8_t, nb::ndim<1>>;

ByteView bytes_of(const uint8_t* p, size_t n, nb::handle owner) { return ByteView(p, {n}, owner); }

nb::dict tensor_info(const StoredTensor& t) {
  nb::dict d;
  d["name"] = t.name;
  d["shape"] = t.shape;
  d["dtype"] = std::string(dtype_name(t.dtype));
  d["format"] = t.format_name();
  d["quantized"] = t.format != nullptr;
  d["group_size"] = t.group_size;
  d["bits"] = t.format ? t.format->bits : int(dtype_size(t.dtype) * 8);
  d["symmetric"] = t.format ? t.format->symmetric : true;
  d["rotation"] = t.rotation.is_none() ? std::string() : describe(t.rotation);
  d["stored_bytes"] = t.stored_bytes();
  d["bits_per_weight"] = t.bits_per_weight();
  d["chunks"] = t.chunks.size();
  return d;
}

struct PyWeights {
  std::unique_ptr<WeightLoader> w;
};

struct PySafetensors {
  std::unique_ptr<SafetensorsFile> f;
};

}  // namespace

void bind_weights(nb::module_& m) {
  nb::class_<PyWeights>(m, "WeightLoader", "A weights table, memory-mapped (see arrowquant.WeightLoader)")
      .def(
          "__init__",
          [](PyWeights* self, const std::string& path) {
            new (self) PyWeights{call_released("ValidationError", [&] { return WeightLoader::open(path); })};
          },
          nb::arg("path"))
      .def_prop_ro("path", [](const PyWeights& s) { return s.w->path(); })
      .def_prop_ro("format_version", [](const PyWeights& s) { return s.w->format_version(); })
      .def_prop_ro("metadata_json", [](const PyWeights& s) { return s.w->metadata().dump(); })
      .def_prop_ro("config_json", [](const PyWeights& s) { return s.w->model_config().dump(); })
      .def("names", [](const PyWeights& s) {
        std::vector<std::string> out;
        for (const auto& t : s.w->tensors()) out.push_back(t.name);
        return out;
      })
      .def("info", [](const PyWeights& s, const std::string& name) {
        try {
          return tensor_info(s.w->tensor(name));
        } catch (...) {
          raise_current("ValidationError");
        }
      })
      .def(
          "raw",
          [](nb::handle self, const std::string& name) {
            const PyWeights& s = nb::cast<const PyWeights&>(self);
            const StoredTensor* t = s.w->find(name);
            if (!t || t->format || t->chunks.size() != 1)
              raise_error("ValidationError", !t ? "no tensor named " + name
                                                : name + " is quantised: read its packed chunks or dequantize() it");
            return bytes_of(t->chunks[0].data, t->chunks[0].nbytes, self);
          },
          nb::arg("name"), "The bytes of an unquantised tensor: a view of the mapped file")
      .def(
          "packed",
          [](nb::handle self, const std::string& name) {
            const PyWeights& s = nb::cast<const PyWeights&>(self);
            const StoredTensor* t = s.w->find(name);
            nb::list out;
            if (!t || !t->format) return out;
            for (const StoredChunk& c : t->chunks) {
              nb::dict d;
              d["row_start"] = c.row_start, d["rows"] = c.rows;
              d["codes"] = bytes_of(c.data, c.nbytes, self);
              d["scales"] = bytes_of(c.scales, c.scales_nbytes, self);
              if (c.zero_points) d["zero_points"] = bytes_of(c.zero_points, c.zero_points_nbytes, self);
              else d["zero_points"] = nb::none();
              out.append(d);
            }
            return out;
          },
          nb::arg("name"), "A quantised tensor's chunks: codes, float16 scales and zero points as views of the file")
      .def(
          "dequantize",
          [](const PyWeights& s, const std::string& name) {
            FloatTensor t = call_released("ValidationError", [&] { return s.w->dequantize(name); });
            return owned_array(std::move(t.values), std::vector<size_t>(t.shape.begin(), t.shape.end()));
          },
          nb::arg("name"), "float32 values of any tensor (checksums verified first)")
      .def(
          "arrow_stream",
          [](nb::handle self) {
            try {
              return weights_arrow_stream(*nb::cast<const PyWeights&>(self).w, self);
            } catch (...) {
              raise_current("ValidationError");
            }
          },
          "The table, one row per stored chunk, as an Arrow C stream capsule; tensor bytes not copied")
      .def(
          "maps",
          [](const PyWeights& s, uintptr_t address, size_t nbytes) {
            return s.w->maps(reinterpret_cast<const void*>(address), nbytes);
          },
          nb::arg("address"), nb::arg("nbytes"), "Whether [address, address + nbytes) lies inside the file's map");

  nb::class_<PySafetensors>(m, "SafetensorsFile", "One safetensors file, memory-mapped and validated")
      .def(
          "__init__",
          [](PySafetensors* self, const std::string& path) {
            new (self) PySafetensors{call_released("ValidationError", [&] { return std::make_unique<SafetensorsFile>(path); })};
          },
          nb::arg("path"))
      .def("tensors", [](nb::handle self) {
        const PySafetensors& s = nb::cast<const PySafetensors&>(self);
        nb::list out;
        for (const TensorView& t : s.f->tensors())
          out.append(nb::make_tuple(t.name, std::string(dtype_name(t.dtype)), t.shape, bytes_of(t.data, t.nbytes, self)));
        return out;
      }, "(name, dtype, shape, bytes) of every tensor; bytes are a view of the map");
}

}  // namespace aqpy
