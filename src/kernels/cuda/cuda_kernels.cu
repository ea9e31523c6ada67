#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstring>
#include <vector>

#include "arrowquant/error.h"
#include "arrowquant/quant_format.h"
#include "kernels/cuda/cuda_kernels.h"

namespace arrowquant::cuda {

namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw Error(std::string("CUDA ") + what + ": " + cudaGetErrorString(e));
}

struct Geometry {
  int64_t rows, cols, group, groups;
  int bits;
  bool symmetric;
  float centre;  // the code that stands for 0 when symmetric (a codebook: the byte level)
  size_t row_bytes;
  bool codebook;
  uint8_t levels[16];  // a codebook's byte level per code
};

__device__ inline unsigned code_at(const uint8_t* row, int64_t c, int bits) {
  const int64_t bit = c * bits;
  unsigned w = row[bit >> 3];
  if ((bit & 7) + bits > 8) w |= unsigned(row[(bit >> 3) + 1]) << 8;
  return (w >> (bit & 7)) & ((1u << bits) - 1);
}

__device__ inline float weight_at(const Geometry& g, const uint8_t* codes, const __half* scales, const uint8_t* zps,
                                  int64_t r, int64_t c) {
  const int64_t k = r * g.groups + c / g.group;
  const float s = __half2float(scales[k]);
  const float z = g.symmetric ? g.centre : float(zps[k]);
  const unsigned code = code_at(codes + size_t(r) * g.row_bytes, c, g.bits);
  return s * (float(g.codebook ? g.levels[code] : code) - z);
}

__global__ void dequant_kernel(Geometry g, const uint8_t* codes, const __half* scales, const uint8_t* zps, float* out) {
  const int64_t r = blockIdx.x;
  for (int64_t c = threadIdx.x; c < g.cols; c += blockDim.x) out[r * g.cols + c] = weight_at(g, codes, scales, zps, r, c);
}

// One block per row; threads stride over the row, then a shared-memory reduction.
__global__ void matvec_kernel(Geometry g, const uint8_t* codes, const __half* scales, const uint8_t* zps,
                              const float* x, float* y) {
  __shared__ float part[256];
  const int64_t r = blockIdx.x;
  float s = 0;
  for (int64_t c = threadIdx.x; c < g.cols; c += blockDim.x) s += weight_at(g, codes, scales, zps, r, c) * x[c];
  part[threadIdx.x] = s;
  __syncthreads();
  for (int step = blockDim.x / 2; step > 0; step >>= 1) {
    if (threadIdx.x < step) part[threadIdx.x] += part[threadIdx.x + step];
    __syncthreads();
  }
  if (threadIdx.x == 0) y[r] = part[0];
}

Geometry geometry_of(const PackedView& v) {
  Geometry g{v.geom.rows, v.geom.cols, v.geom.group_size, v.geom.groups_per_row(), v.format->bits, v.format->symmetric,
             v.format->centre(), packed_row_bytes(v.geom.cols, v.format->bits), v.format->codebook(), {}};
  if (g.codebook) std::memcpy(g.levels, v.format->levels, sizeof g.levels);  // 16 bytes (quant_format.h)
  return g;
}

// Device copies of a packed view, freed on scope exit.
struct DeviceView {
  uint8_t* codes = nullptr;
  __half* scales = nullptr;
  uint8_t* zps = nullptr;
  explicit DeviceView(const PackedView& v) {
    const Geometry g = geometry_of(v);
    const size_t nc = g.row_bytes * size_t(g.rows), ns = size_t(g.rows * g.groups);
    check(cudaMalloc(&codes, nc), "malloc");
    check(cudaMemcpy(codes, v.codes, nc, cudaMemcpyHostToDevice), "copy codes");
    check(cudaMalloc(&scales, ns * 2), "malloc");
    check(cudaMemcpy(scales, v.scales, ns * 2, cudaMemcpyHostToDevice), "copy scales");
    if (!g.symmetric) {
      check(cudaMalloc(&zps, ns), "malloc");
      check(cudaMemcpy(zps, v.zero_points, ns, cudaMemcpyHostToDevice), "copy zero points");
    }
  }
  ~DeviceView() {
    cudaFree(codes);
    cudaFree(scales);
    cudaFree(zps);
  }
};

}  // namespace

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) return 0;
  return n;
}

std::string device_summary() {
  const int n = device_count();
  if (n == 0) return "no CUDA device";
  cudaDeviceProp p;
  cudaGetDeviceProperties(&p, 0);
  return std::to_string(n) + " device(s), first: " + p.name;
}

void dequantize_f32(const PackedView& v, float* out) {
  const Geometry g = geometry_of(v);
  DeviceView d(v);
  float* dout = nullptr;
  check(cudaMalloc(&dout, size_t(g.rows * g.cols) * 4), "malloc");
  dequant_kernel<<<unsigned(g.rows), 256>>>(g, d.codes, d.scales, d.zps, dout);
  check(cudaGetLastError(), "dequantize launch");
  check(cudaMemcpy(out, dout, size_t(g.rows * g.cols) * 4, cudaMemcpyDeviceToHost), "copy result");
  cudaFree(dout);
}

void matvec_f32(const PackedView& v, const float* x, float* y) {
  const Geometry g = geometry_of(v);
  DeviceView d(v);
  float *dx = nullptr, *dy = nullptr;
  check(cudaMalloc(&dx, size_t(g.cols) * 4), "malloc");
  check(cudaMalloc(&dy, size_t(g.rows) * 4), "malloc");
  check(cudaMemcpy(dx, x, size_t(g.cols) * 4, cudaMemcpyHostToDevice), "copy x");
  matvec_kernel<<<unsigned(g.rows), 256>>>(g, d.codes, d.scales, d.zps, dx, dy);
  check(cudaGetLastError(), "matvec launch");
  check(cudaMemcpy(y, dy, size_t(g.rows) * 4, cudaMemcpyDeviceToHost), "copy y");
  cudaFree(dx);
  cudaFree(dy);
}

}  // namespace arrowquant::cuda
