// A weights table as an Arrow C stream (the PyCapsule interface's "arrow_array_stream"), one row per
// stored chunk, without copying tensor bytes: `data`, `scales` and `zero_points` are binary_view
// columns whose views point straight into the loader's memory (the memory map for V2 data), each value
// its own data buffer (views hold 32-bit offsets; a map can be larger). Every buffer keeps the Python
// WeightLoader alive, so the stream may outlive the object that made it.
#include <arrow/api.h>
#include <arrow/c/bridge.h>
#include <arrow/util/binary_view_util.h>

#include "arrowquant/error.h"
#include "arrowquant/weight_loader.h"
#include "python/bindings.h"

namespace aqpy {

using namespace arrowquant;

namespace {

// Bytes owned elsewhere (the loader's map or decoded columns), with the Python owner held.
class BorrowedBuffer : public arrow::Buffer {
 public:
  BorrowedBuffer(const uint8_t* data, int64_t size, std::shared_ptr<void> owner)
      : arrow::Buffer(data, size), owner_(std::move(owner)) {}

 private:
  std::shared_ptr<void> owner_;
};

// A reference to a Python object that may be dropped from any thread (Arrow consumers release
// streams where they like): the GIL is taken for the decref, skipped once the interpreter is gone.
std::shared_ptr<void> python_reference(nb::handle obj) {
  obj.inc_ref();
  PyObject* p = obj.ptr();
  return std::shared_ptr<void>(p, [](void* q) {
    if (!Py_IsInitialized()) return;
    nb::gil_scoped_acquire gil;
    Py_DECREF(static_cast<PyObject*>(q));
  });
}

void check(const arrow::Status& s) {
  if (!s.ok()) throw ValueError("Arrow export: " + s.ToString());
}

// A binary_view column of (pointer, size) values, each in its own borrowed buffer.
std::shared_ptr<arrow::Array> borrowed_views(const std::vector<std::pair<const uint8_t*, size_t>>& values,
                                             const std::shared_ptr<void>& owner) {
  using View = arrow::BinaryViewType::c_type;
  auto views = arrow::AllocateBuffer(int64_t(values.size() * sizeof(View)));
  check(views.status());
  auto* out = reinterpret_cast<View*>((*views)->mutable_data());
  arrow::BufferVector buffers;
  std::vector<uint8_t> valid((values.size() + 7) / 8, 0);
  int64_t nulls = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    const auto [p, n] = values[i];
    if (!p) {
      out[i] = arrow::util::ToInlineBinaryView(nullptr, 0);
      ++nulls;
      continue;
    }
    valid[i / 8] |= uint8_t(1u << (i % 8));
    if (n > size_t(INT32_MAX)) throw ValueError("Arrow export: a value of " + std::to_string(n) + " bytes (over 2 GiB)");
    if (n <= size_t(arrow::BinaryViewType::kInlineSize)) {
      out[i] = arrow::util::ToInlineBinaryView(p, int32_t(n));
    } else {
      out[i] = arrow::util::ToNonInlineBinaryView(p, int32_t(n), int32_t(buffers.size()), 0);
      buffers.push_back(std::make_shared<BorrowedBuffer>(p, int64_t(n), owner));
    }
  }
  std::shared_ptr<arrow::Buffer> bitmap;
  if (nulls) bitmap = arrow::Buffer::FromVector(std::move(valid));
  return std::make_shared<arrow::BinaryViewArray>(arrow::binary_view(), int64_t(values.size()),
                                                  std::shared_ptr<arrow::Buffer>(std::move(*views)), std::move(buffers),
                                                  bitmap, nulls);
}

template <class Builder, class T>
std::shared_ptr<arrow::Array> column(const std::vector<T>& values) {
  Builder b;
  for (const T& v : values) check(b.Append(v));
  std::shared_ptr<arrow::Array> out;
  check(b.Finish(&out));
  return out;
}

std::shared_ptr<arrow::Array> shape_column(const std::vector<Shape>& shapes) {
  auto dims = std::make_shared<arrow::Int64Builder>();
  arrow::ListBuilder b(arrow::default_memory_pool(), dims);
  for (const Shape& s : shapes) {
    check(b.Append());
    for (int64_t d : s) check(dims->Append(d));
  }
  std::shared_ptr<arrow::Array> out;
  check(b.Finish(&out));
  return out;
}

}  // namespace

nb::object weights_arrow_stream(const WeightLoader& w, nb::handle owner) {
  const std::shared_ptr<void> keep = python_reference(owner);
  std::vector<std::string> names, dtypes, formats;
  std::vector<int64_t> groups, row_starts, rows;
  std::vector<int32_t> chunk_index;
  std::vector<Shape> shapes;
  std::vector<std::pair<const uint8_t*, size_t>> data, scales, zeros;
  for (const StoredTensor& t : w.tensors())
    for (size_t c = 0; c < t.chunks.size(); ++c) {
      const StoredChunk& k = t.chunks[c];
      names.push_back(t.name), dtypes.push_back(std::string(dtype_name(t.dtype))), formats.push_back(t.format_name());
      shapes.push_back(t.shape);
      groups.push_back(t.group_size), row_starts.push_back(k.row_start), rows.push_back(k.rows);
      chunk_index.push_back(int32_t(c));
      data.push_back({k.data, k.nbytes});
      scales.push_back({k.scales, k.scales_nbytes});
      zeros.push_back({k.zero_points, k.zero_points_nbytes});
    }
  auto schema = arrow::schema({arrow::field("layer_name", arrow::utf8()), arrow::field("shape", arrow::list(arrow::int64())),
                               arrow::field("dtype", arrow::utf8()), arrow::field("quant_type", arrow::utf8()),
                               arrow::field("group_size", arrow::int64()), arrow::field("chunk_index", arrow::int32()),
                               arrow::field("row_start", arrow::int64()), arrow::field("rows", arrow::int64()),
                               arrow::field("data", arrow::binary_view()), arrow::field("scales", arrow::binary_view()),
                               arrow::field("zero_points", arrow::binary_view())});
  auto batch = arrow::RecordBatch::Make(
      schema, int64_t(names.size()),
      {column<arrow::StringBuilder>(names), shape_column(shapes), column<arrow::StringBuilder>(dtypes),
       column<arrow::StringBuilder>(formats), column<arrow::Int64Builder>(groups), column<arrow::Int32Builder>(chunk_index),
       column<arrow::Int64Builder>(row_starts), column<arrow::Int64Builder>(rows), borrowed_views(data, keep),
       borrowed_views(scales, keep), borrowed_views(zeros, keep)});
  auto reader = arrow::RecordBatchReader::Make({batch}, schema);
  check(reader.status());
  auto* stream = new ArrowArrayStream;
  const arrow::Status s = arrow::ExportRecordBatchReader(*reader, stream);
  if (!s.ok()) {
    delete stream;
    check(s);
  }
  // The capsule frees the struct, releasing the stream first unless a consumer took it (release nulled).
  return nb::steal(PyCapsule_New(stream, "arrow_array_stream", [](PyObject* cap) {
    auto* st = static_cast<ArrowArrayStream*>(PyCapsule_GetPointer(cap, "arrow_array_stream"));
    if (st && st->release) st->release(st);
    delete st;
  }));
}

}  // namespace aqpy
