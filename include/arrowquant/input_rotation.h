// A weight stored in a rotated input space (incoherence processing, as QuIP# and QuaRot do): the file
// holds W' = W·Rᵀ for an orthogonal R, and the layer's input is rotated the same way at run time,
// x' = R·x, so that W'·x' = W·x exactly. A rotation spreads the few large weights and the few loud
// input channels of a row across a block, so each group's range fits its values and the rounding
// error is spread evenly over the inputs: what makes 2–3-bit codes hold up.
//
// R = B·D: D = diag(s) with random signs s_i = ±1 drawn from the seed (docs/FORMAT.md spells the
// generator), B = blockdiag(H_b / √b) over consecutive blocks of b input channels, H_b the Hadamard
// matrix of order b = 2^k · 12^j (j ≤ 2): Sylvester's H_{2^k} (a fast Walsh–Hadamard transform) ⊗
// Paley's H_12^{⊗j}, so that widths like 384, 576 and 1536 get one block over the whole row.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace arrowquant {

enum class RotationKind : uint8_t { None, Hadamard };

struct InputRotation {
  RotationKind kind = RotationKind::None;
  int64_t block = 0;  // channels per Hadamard block (divides the row length)
  uint64_t seed = 0;  // of the random signs
  bool is_none() const { return kind == RotationKind::None; }
  bool operator==(const InputRotation& o) const { return kind == o.kind && block == o.block && seed == o.seed; }
};

// "none", "hadamard": the rotation column's values.
std::string_view rotation_kind_name(RotationKind k);
// false when the name is not a rotation kind.
bool rotation_kind_from_name(std::string_view name, RotationKind& out);
// The largest Hadamard order 2^k·12^j (j ≤ 2) dividing cols and at most max_block (0: no limit);
// 1 when cols is odd.
int64_t hadamard_block_for(int64_t cols, int64_t max_block = 0);
// The randomised Hadamard rotation for rows of cols values, blocks as above.
InputRotation hadamard_rotation(int64_t cols, uint64_t seed, int64_t max_block = 0);
// What is wrong with r for rows of cols values ("" when nothing): a block that does not divide the
// row or is no Hadamard order this build makes.
std::string rotation_problem(const InputRotation& r, int64_t cols);
// "hadamard/192/seed 7" for reports; "none".
std::string describe(const InputRotation& r);

// A rotation made ready for rows of cols values (signs and Paley's matrix tabulated once), shared by
// every layer it applies to.
class PreparedRotation {
 public:
  // Throws ValueError when rotation_problem() says something.
  PreparedRotation(const InputRotation& r, int64_t cols);
  const InputRotation& rotation() const { return r_; }
  int64_t cols() const { return cols_; }
  // Each of n rows x ← R·x: run-time inputs, and weight rows before they are quantised.
  void rotate(float* x, int64_t n) const;
  void rotate(double* x, int64_t n) const;
  // Each of n rows x ← Rᵀ·x: stored weight rows back into the model's own input space.
  void unrotate(float* x, int64_t n) const;
  void unrotate(double* x, int64_t n) const;

 private:
  template <typename T>
  void apply(T* x, int64_t n, bool transpose) const;
  InputRotation r_;
  int64_t cols_ = 0, pow2_ = 1;
  int twelves_ = 0;
  std::vector<float> signs_;
};

}  // namespace arrowquant
