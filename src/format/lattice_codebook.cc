#include "format/lattice_codebook.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace arrowquant::lattice {

namespace {

constexpr int kPatterns = 256;

// The patterns in level units (4a: entries 2, 6, 10), entry-major for the search loop, and per pattern
// the parity the number of negative entries must have (Σ sᵢaᵢ even ⇔ #negative ≡ Σaᵢ mod 2, as
// flipping one sign changes the sum by the odd number 2aᵢ).
struct Tables {
  alignas(64) float abs_level[kDim][kPatterns];
  std::array<uint8_t, kPatterns> neg_parity;
  std::vector<int16_t> index_of;  // base-3 key of a pattern (digits 0, 1, 2 for 2, 6, 10) -> index or -1
  // For the decoder (SWAR, 8 byte lanes in a word): each pattern's bytes, and for the 7 stored sign
  // bits plus the pattern's parity (bit 7) a mask of 0xff in every negative lane.
  std::array<uint64_t, kPatterns> abs_bytes;
  std::array<uint64_t, 256> sign_mask;
  std::array<uint16_t, kPatterns> digits;
};

int key_of(const int8_t* abs4) {
  int key = 0;
  for (int i = kDim - 1; i >= 0; --i) key = key * 3 + (abs4[i] - 2) / 4;
  return key;
}

const Tables& tables() {
  static const Tables t = [] {
    Tables t{};
    // Every pattern with entries in {1/2, 3/2, 5/2}, ordered by squared norm, then lexicographically.
    std::vector<std::array<int8_t, kDim>> all;
    for (int key = 0; key < 6561; ++key) {
      std::array<int8_t, kDim> p{};
      for (int i = 0, k = key; i < kDim; ++i, k /= 3) p[size_t(i)] = int8_t(2 + 4 * (k % 3));
      all.push_back(p);
    }
    auto norm = [](const std::array<int8_t, kDim>& p) {
      int n = 0;
      for (int8_t v : p) n += v * v;
      return n;
    };
    std::stable_sort(all.begin(), all.end(), [&](const auto& a, const auto& b) {
      return norm(a) != norm(b) ? norm(a) < norm(b) : a < b;
    });
    t.index_of.assign(6561, -1);
    for (int j = 0; j < kPatterns; ++j) {
      const auto& p = all[size_t(j)];
      int sum4 = 0;
      for (int i = 0; i < kDim; ++i) {
        t.abs_level[i][j] = float(p[size_t(i)]);
        sum4 += p[size_t(i)];
      }
      t.neg_parity[size_t(j)] = uint8_t((sum4 / 4) & 1);
      t.index_of[size_t(key_of(p.data()))] = int16_t(j);
      uint64_t w = 0;
      for (int i = 0; i < kDim; ++i) w |= uint64_t(uint8_t(p[size_t(i)])) << (8 * i);
      t.abs_bytes[size_t(j)] = w;
      uint16_t d = 0;
      for (int i = 0; i < kDim; ++i) d = uint16_t(d | ((p[size_t(i)] - 2) / 4) << (2 * i));
      t.digits[size_t(j)] = d;
    }
    for (int key = 0; key < 256; ++key) {
      const int signs = key & 0x7f, parity = key >> 7;
      const bool last_negative = (__builtin_popcount(unsigned(signs)) & 1) != parity;
      uint64_t m = 0;
      for (int i = 0; i < kDim; ++i)
        if (i < kDim - 1 ? (signs >> i) & 1 : last_negative) m |= uint64_t(0xff) << (8 * i);
      t.sign_mask[size_t(key)] = m;
    }
    return t;
  }();
  return t;
}

// A code's 8 levels as int8 lanes of a word: the pattern's bytes negated where the mask says
// ((a ^ 0xff) + 1 = −a; no lane carries, as a ≤ 10), then the shift ±1 added (no lane borrows or
// carries either: |4sa| ≥ 2).
inline uint64_t decode_word(const Tables& t, uint16_t code) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  const int j = code & 0xff;
  const uint64_t m = t.sign_mask[size_t(((code >> 8) & 0x7f) | t.neg_parity[size_t(j)] << 7)];
  const uint64_t v = (t.abs_bytes[size_t(j)] ^ m) + (m & kOnes);
  return (code >> 15) ? v - kOnes : v + kOnes;
}
}  // namespace

const uint16_t* pattern_digits() { return tables().digits.data(); }

void decode(uint16_t code, int8_t* levels) {
  const uint64_t w = decode_word(tables(), code);
  std::memcpy(levels, &w, kDim);
}

uint16_t nearest(const float* x) {
  const Tables& t = tables();
  float best = std::numeric_limits<float>::infinity();
  uint32_t best_code = 0;
  alignas(64) float cost[kPatterns], flip[kPatterns];
  for (int s = 0; s < 2; ++s) {
    const float shift = s == 0 ? 1.0f : -1.0f;
    float mag[kDim];
    int negatives = 0, sign_bits = 0;
    for (int i = 0; i < kDim; ++i) {
      const float y = (x[i] == x[i] ? x[i] : 0.0f) - shift;
      mag[i] = y < 0 ? -y : y;
      if (y < 0) {
        ++negatives;
        if (i < kDim - 1) sign_bits |= 1 << i;
      }
    }
    // For each pattern: the distance with every sign matching y, and the cheapest single flip
    // ((|y|+a)² − (|y|−a)² = 4|y|a), needed when the signs of y have the wrong parity.
    for (int j = 0; j < kPatterns; ++j) { cost[j] = 0; flip[j] = std::numeric_limits<float>::max(); }
    for (int i = 0; i < kDim; ++i) {
      const float m = mag[i];
      const float* a = t.abs_level[i];
      for (int j = 0; j < kPatterns; ++j) {
        const float d = m - a[j];
        cost[j] += d * d;
        flip[j] = std::min(flip[j], 4 * m * a[j]);
      }
    }
    for (int j = 0; j < kPatterns; ++j) {
      const bool wrong = (negatives & 1) != t.neg_parity[size_t(j)];
      const float c = cost[j] + (wrong ? flip[j] : 0.0f);
      if (c < best) {
        best = c;
        int bits = sign_bits;
        if (wrong) {  // flip the entry whose flip costs least (first on ties)
          int k = 0;
          for (int i = 1; i < kDim; ++i)
            if (4 * mag[i] * t.abs_level[i][j] < 4 * mag[k] * t.abs_level[k][j]) k = i;
          if (k < kDim - 1) bits ^= 1 << k;
        }
        best_code = uint32_t(j) | uint32_t(bits) << 8 | uint32_t(s) << 15;
      }
    }
  }
  return uint16_t(best_code);
}

int32_t code_of_levels(const int8_t* levels) {
  const Tables& t = tables();
  // Level = 4sa ± 1 with 4sa ≡ 2 (mod 4): +1/4 leaves levels ≡ 3 (mod 4), −1/4 leaves ≡ 1.
  const int mod = ((levels[0] % 4) + 4) % 4;
  if (mod != 1 && mod != 3) return -1;
  const int shift = mod == 3 ? 1 : -1;
  int8_t abs4[kDim];
  int sign_bits = 0, negatives = 0;
  for (int i = 0; i < kDim; ++i) {
    const int v = levels[i] - shift;
    if (((v % 4) + 4) % 4 != 2) return -1;
    const int a = v < 0 ? -v : v;
    if (a > 10) return -1;
    abs4[i] = int8_t(a);
    if (v < 0) {
      ++negatives;
      if (i < kDim - 1) sign_bits |= 1 << i;
    }
  }
  const int j = t.index_of[size_t(key_of(abs4))];
  if (j < 0 || (negatives & 1) != t.neg_parity[size_t(j)]) return -1;
  return int32_t(j | sign_bits << 8 | (shift < 0 ? 1 : 0) << 15);
}

void pack_row(const uint8_t* levels_u8, int64_t cols, uint8_t* out) {
  for (int64_t v = 0; v < cols / kDim; ++v) {
    int8_t l[kDim];
    for (int i = 0; i < kDim; ++i) l[i] = int8_t(int(levels_u8[v * kDim + i]) - 128);
    const int32_t code = code_of_levels(l);
    if (code < 0) throw std::invalid_argument("lattice pack: the levels of vector " + std::to_string(v) + " are not a codebook point");
    const uint16_t c = uint16_t(code);
    std::memcpy(out + v * kCodeBytes, &c, kCodeBytes);
  }
}

void unpack_row(const uint8_t* packed, int64_t cols, uint8_t* levels_u8) {
  const Tables& t = tables();
  for (int64_t v = 0; v < cols / kDim; ++v) {
    uint16_t c;
    std::memcpy(&c, packed + v * kCodeBytes, kCodeBytes);
    const uint64_t w = decode_word(t, c) ^ 0x8080808080808080ull;  // + 128 in every lane
    std::memcpy(levels_u8 + v * kDim, &w, kDim);
  }
}

}  // namespace arrowquant::lattice
