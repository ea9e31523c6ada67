#include "model/linear.h"

#include <algorithm>

#include "arrowquant/error.h"
#include "kernels/gemm_i8.h"
#include "kernels/kernel_registry.h"
#include "kernels/packed_f32.h"
#include "kernels/dense_ops.h"
#include "util/thread_pool.h"

namespace arrowquant {

namespace {

// Rows rotated in place, spread over the pool when there are many (prefill, encoder batches).
void rotate_rows(const PreparedRotation& r, float* x, int64_t n, int threads) {
  if (n < 16) return r.rotate(x, n);
  parallel_for(n, threads, [&](int64_t r0, int64_t r1) { r.rotate(x + r0 * r.cols(), r1 - r0); });
}

}  // namespace

Linear Linear::from_tensor(const ModelWeights& w, const std::string& name, int64_t out, int64_t in, int threads) {
  Linear l;
  l.name = name.size() > 7 && name.ends_with(".weight") ? name.substr(0, name.size() - 7) : name;
  l.in = in;
  l.out = out;
  l.threads = threads;
  l.packed = w.packed(name, {out, in});
  if (l.packed.empty()) {
    l.weight = std::make_shared<const std::vector<float>>(w.load(name, {out, in}));
  } else {
    l.kernel = w.kernel_for(l.packed[0].view).kernel;
    l.rotation = w.rotation(name);
  }
  return l;
}

Linear Linear::tied_to(const Embedding& e, int threads) {
  Linear l;
  l.in = e.cols;
  l.out = e.rows;
  l.threads = threads;
  l.weight = e.table;
  l.packed = e.packed;
  l.kernel = e.kernel;
  l.rotation = e.rotation;  // a rotated table is a head whose input is rotated alike
  return l;
}

Linear Linear::load(const ModelWeights& w, const std::string& prefix, int64_t out, int64_t in,
                    bool with_bias, int threads) {
  Linear l = from_tensor(w, prefix + ".weight", out, in, threads);
  if (with_bias) l.bias = w.load(prefix + ".bias", {out});
  return l;
}

void Linear::set_weight(std::vector<float> w) {
  if (int64_t(w.size()) != in * out)
    throw ValueError(name + ": replacement weight has " + std::to_string(w.size()) + " values, expected " +
                     std::to_string(in * out));
  weight = std::make_shared<const std::vector<float>>(std::move(w));
  packed.clear();
  packed_owner = nullptr;
  kernel = nullptr;
  rotation = nullptr;
}

void Linear::run_on_packed(std::shared_ptr<const QuantizedTensor> q) {
  if (q->shape != Shape{out, in})
    throw ShapeError(name + ": packed weight has shape " + shape_str(q->shape) + ", expected " + shape_str({out, in}));
  const PackedView v = view_of(*q);
  kernel = KernelRegistry::instance().select(*q->format, automatic_int8_request(), nullptr, &v).kernel;
  rotation = q->rotation.is_none() ? nullptr : std::make_shared<const PreparedRotation>(q->rotation, in);
  packed = {PackedRows{0, v}};
  packed_owner = std::move(q);
}

void Linear::drop_packed() {
  if (!weight) throw Error(name + ": no float weight to return to");
  packed.clear();
  packed_owner = nullptr;
  kernel = nullptr;
  rotation = nullptr;
}

const std::vector<float>& Linear::float_weight() const {
  if (!weight) throw Error(name + ": the weight is packed; load the model with float weights");
  return *weight;
}

void Linear::forward(const float* x, int64_t n, float* y) const { forward_shared({{this, y}}, x, n); }

void Linear::forward_shared(std::initializer_list<std::pair<const Linear*, float*>> layers, const float* x, int64_t n) {
  thread_local std::vector<float> rotated, rounded;
  const PreparedRotation* done = nullptr;
  const kernels::SharedActivations shared;  // one int8 quantisation of each distinct input
  for (const auto& [l, y] : layers) {
    const float* in = x;
    if (l->input_quantizer) {  // this layer's own rounding of x: nothing made from x is reused
      rounded.resize(size_t(n * l->in));
      l->input_quantizer->quantize(*l, x, n, rounded.data());
      in = rounded.data();
      done = nullptr;
      kernels::SharedActivations::forget();
    }
    if (l->observer) l->observer->observe(*l, in, n);
    if (!l->rotation) {
      l->multiply(in, n, y);
      continue;
    }
    if (!done || !(done->rotation() == l->rotation->rotation()) || done->cols() != l->in) {
      rotated.assign(in, in + n * l->in);
      rotate_rows(*l->rotation, rotated.data(), n, l->threads);
      kernels::SharedActivations::forget();  // the same buffer now holds another input
      done = l->input_quantizer ? nullptr : l->rotation.get();  // a rounded input is this layer's alone
    }
    l->multiply(rotated.data(), n, y);
  }
}

void Linear::multiply(const float* x, int64_t n, float* y) const {
  if (packed.empty()) {
    kernels::linear_f32(x, n, in, weight->data(), out, bias.empty() ? nullptr : bias.data(), y, threads);
    return;
  }
  for (const auto& c : packed) kernel->fn(c.view, x, n, y + c.row_start, out, threads);
  if (!bias.empty())
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < out; ++j) y[i * out + j] += bias[size_t(j)];
}

Embedding Embedding::load(const ModelWeights& w, const std::string& name, int64_t rows, int64_t cols) {
  Embedding e;
  e.rows = rows;
  e.cols = cols;
  e.packed = w.packed(name, {rows, cols});
  if (e.packed.empty()) {
    e.table = std::make_shared<const std::vector<float>>(w.load(name, {rows, cols}));
  } else {
    e.kernel = w.kernel_for(e.packed[0].view).kernel;
    e.rotation = w.rotation(name);
  }
  return e;
}

void Embedding::lookup(int64_t row, float* out) const {
  if (packed.empty()) {
    std::copy(table->begin() + row * cols, table->begin() + (row + 1) * cols, out);
    return;
  }
  for (const auto& c : packed)
    if (row >= c.row_start && row < c.row_start + c.view.geom.rows) {
      kernels::dequantize_f32(c.view, row - c.row_start, row - c.row_start + 1, out);
      if (rotation) rotation->unrotate(out, 1);
      return;
    }
}

}  // namespace arrowquant
