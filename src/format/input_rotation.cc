#include "arrowquant/input_rotation.h"

#include <algorithm>
#include <cmath>

#include "arrowquant/error.h"

namespace arrowquant {

namespace {

constexpr int kPaleyOrder = 12;
constexpr int kMaxTwelves = 2;

// Paley's construction I for q = 11 (q ≡ 3 mod 4): H = I + [[0, 1ᵀ], [−1, Q]] with Q[i][j] the
// quadratic character of j − i mod 11. H·Hᵀ = 12·I; H is not symmetric, so Rᵀ uses its transpose.
struct Paley12 {
  float h[kPaleyOrder][kPaleyOrder], ht[kPaleyOrder][kPaleyOrder];
  Paley12() {
    constexpr int q = 11;
    bool residue[q] = {};
    for (int x = 1; x < q; ++x) residue[(x * x) % q] = true;
    for (int i = 0; i < kPaleyOrder; ++i)
      for (int j = 0; j < kPaleyOrder; ++j) {
        int s;
        if (i == 0) s = j == 0 ? 0 : 1;
        else if (j == 0) s = -1;
        else {
          const int d = ((j - i) % q + q) % q;
          s = d == 0 ? 0 : (residue[d] ? 1 : -1);
        }
        h[i][j] = float(s + (i == j ? 1 : 0));
      }
    for (int i = 0; i < kPaleyOrder; ++i)
      for (int j = 0; j < kPaleyOrder; ++j) ht[i][j] = h[j][i];
  }
};
const Paley12& paley12() {
  static const Paley12 p;
  return p;
}

// splitmix64 (Steele, Lea, Flood 2014): the sign of input channel i is the top bit of the i-th output.
uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// b = 2^k · 12^j: k and j, or false.
bool split_order(int64_t b, int64_t& pow2, int& twelves) {
  if (b < 1) return false;
  twelves = 0;
  while (b % kPaleyOrder == 0 && twelves < kMaxTwelves) b /= kPaleyOrder, ++twelves;
  if (b & (b - 1)) return false;
  pow2 = b;
  return true;
}

// In-place unnormalised Walsh–Hadamard transform of n (a power of two) values. The first three
// stages run as one 8-point transform per run of 8 (their pairs are too close to vectorise); the
// later ones combine contiguous runs of h values.
template <typename T>
void fwht(T* x, int64_t n) {
  int64_t first = 1;
  if (n >= 8) {
    for (int64_t i = 0; i < n; i += 8) {
      T* v = x + i;
      const T a0 = v[0] + v[1], a1 = v[0] - v[1], a2 = v[2] + v[3], a3 = v[2] - v[3];
      const T a4 = v[4] + v[5], a5 = v[4] - v[5], a6 = v[6] + v[7], a7 = v[6] - v[7];
      const T b0 = a0 + a2, b1 = a1 + a3, b2 = a0 - a2, b3 = a1 - a3;
      const T b4 = a4 + a6, b5 = a5 + a7, b6 = a4 - a6, b7 = a5 - a7;
      v[0] = b0 + b4, v[1] = b1 + b5, v[2] = b2 + b6, v[3] = b3 + b7;
      v[4] = b0 - b4, v[5] = b1 - b5, v[6] = b2 - b6, v[7] = b3 - b7;
    }
    first = 8;
  }
  for (int64_t h = first; h < n; h *= 2)
    for (int64_t i = 0; i < n; i += 2 * h)
      for (int64_t j = i; j < i + h; ++j) {
        const T a = x[j], b = x[j + h];
        x[j] = a + b;
        x[j + h] = a - b;
      }
}

}  // namespace

std::string_view rotation_kind_name(RotationKind k) { return k == RotationKind::Hadamard ? "hadamard" : "none"; }

bool rotation_kind_from_name(std::string_view name, RotationKind& out) {
  if (name == "none") out = RotationKind::None;
  else if (name == "hadamard") out = RotationKind::Hadamard;
  else return false;
  return true;
}

int64_t hadamard_block_for(int64_t cols, int64_t max_block) {
  int64_t best = 1;
  for (int64_t twelves = 1, t = 0; t <= kMaxTwelves; ++t, twelves *= kPaleyOrder) {
    if (cols % twelves || (max_block > 0 && twelves > max_block)) break;
    int64_t p = 1;
    while ((cols / twelves) % (p * 2) == 0 && (max_block <= 0 || p * 2 * twelves <= max_block)) p *= 2;
    best = std::max(best, p * twelves);
  }
  return best;
}

InputRotation hadamard_rotation(int64_t cols, uint64_t seed, int64_t max_block) {
  return {RotationKind::Hadamard, hadamard_block_for(cols, max_block), seed};
}

std::string rotation_problem(const InputRotation& r, int64_t cols) {
  if (r.is_none()) return "";
  int64_t pow2;
  int twelves;
  if (!split_order(r.block, pow2, twelves))
    return "rotation block " + std::to_string(r.block) + " is not a Hadamard order 2^k x 12^j (j <= 2)";
  if (cols <= 0 || cols % r.block)
    return "rotation block " + std::to_string(r.block) + " does not divide the row length " + std::to_string(cols);
  return "";
}

std::string describe(const InputRotation& r) {
  if (r.is_none()) return "none";
  return std::string(rotation_kind_name(r.kind)) + "/" + std::to_string(r.block) + "/seed " + std::to_string(r.seed);
}

PreparedRotation::PreparedRotation(const InputRotation& r, int64_t cols) : r_(r), cols_(cols) {
  if (const std::string p = rotation_problem(r, cols); !p.empty()) throw ValueError(p);
  if (r.is_none()) return;
  split_order(r.block, pow2_, twelves_);
  signs_.resize(size_t(cols));
  uint64_t state = r.seed;
  for (auto& s : signs_) s = (splitmix64(state) >> 63) ? -1.0f : 1.0f;
  paley12();  // built before any worker thread needs it
}

// A block of b = 2^k · 12^j values is indexed t·12^j + a (t the Walsh–Hadamard digit, a the Paley
// digits): the Walsh–Hadamard butterflies then combine whole contiguous runs of 12^j values, and
// Paley's factor works on contiguous runs of 12, so every inner loop is contiguous (vectorised).
template <typename T>
void PreparedRotation::apply(T* x, int64_t n, bool transpose) const {
  if (r_.is_none()) return;
  const Paley12& P = paley12();
  // Columns of the matrix applied (H for R, Hᵀ for Rᵀ): y += column_j · x_j over contiguous runs.
  const auto& cols_of = transpose ? P.h : P.ht;
  const int64_t b = r_.block, run = b / pow2_;  // run = 12^j
  const T norm = T(1) / std::sqrt(T(b));
  T tmp[kPaleyOrder * kPaleyOrder];
  for (int64_t row = 0; row < n; ++row) {
    T* v = x + row * cols_;
    if (!transpose)
      for (int64_t i = 0; i < cols_; ++i) v[i] *= T(signs_[size_t(i)]);
    for (int64_t b0 = 0; b0 < cols_; b0 += b) {
      T* blk = v + b0;
      if (run == 1) {
        fwht(blk, pow2_);
      } else {
        for (int64_t h = 1; h < pow2_; h *= 2)
          for (int64_t i = 0; i < pow2_; i += 2 * h)
            for (int64_t t = i; t < i + h; ++t) {
              T* u = blk + t * run;
              T* w = blk + (t + h) * run;
              for (int64_t a = 0; a < run; ++a) {
                const T p = u[a], q = w[a];
                u[a] = p + q;
                w[a] = p - q;
              }
            }
      }
      for (int64_t t = 0; t < pow2_ && twelves_ > 0; ++t) {
        T* c = blk + t * run;
        // The last Paley digit: each contiguous run of 12 multiplied by H.
        for (int64_t a0 = 0; a0 < run; a0 += kPaleyOrder) {
          T y[kPaleyOrder] = {};
          for (int j = 0; j < kPaleyOrder; ++j) {
            const T xj = c[a0 + j];
            for (int k = 0; k < kPaleyOrder; ++k) y[k] += T(cols_of[j][k]) * xj;
          }
          std::copy(y, y + kPaleyOrder, c + a0);
        }
        // The first of two Paley digits: runs of 12 combined, 12 apart.
        if (twelves_ == 2) {
          std::fill(tmp, tmp + kPaleyOrder * kPaleyOrder, T(0));
          for (int j = 0; j < kPaleyOrder; ++j)
            for (int k = 0; k < kPaleyOrder; ++k) {
              const T h = T(cols_of[j][k]);
              for (int a = 0; a < kPaleyOrder; ++a) tmp[k * kPaleyOrder + a] += h * c[j * kPaleyOrder + a];
            }
          std::copy(tmp, tmp + kPaleyOrder * kPaleyOrder, c);
        }
      }
    }
    if (transpose)
      for (int64_t i = 0; i < cols_; ++i) v[i] *= T(signs_[size_t(i)]) * norm;
    else
      for (int64_t i = 0; i < cols_; ++i) v[i] *= norm;
  }
}

void PreparedRotation::rotate(float* x, int64_t n) const { apply(x, n, false); }
void PreparedRotation::rotate(double* x, int64_t n) const { apply(x, n, false); }
void PreparedRotation::unrotate(float* x, int64_t n) const { apply(x, n, true); }
void PreparedRotation::unrotate(double* x, int64_t n) const { apply(x, n, true); }

}  // namespace arrowquant
