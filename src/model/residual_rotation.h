// The offline rotation of a Llama-family decoder's residual stream (QuaRot's and SpinQuant's
// computational invariance). RMSNorm(x)·γ feeds only the Linears after it, and RMS is unchanged by an
// orthogonal R, so with γ folded into those Linears the whole model can run with its residual stream
// rotated, h' = R·h, and compute the same function:
//   embedding rows   e' = R·e                 (a lookup returns the rotated row)
//   readers          W' = W·diag(γ)·Rᵀ        (q, k, v after input_layernorm; gate, up after
//                                              post_attention_layernorm), those norms' γ = 1
//   writers          W' = R·W, b' = R·b       (o_proj, down_proj: what they add to the stream)
//   head             W' = W·Rᵀ                (an untied lm_head; a tied one is the embedding table)
//   final norm       kept, and applied where the head's input is unrotated: logits =
//                    W'·R·(γ_f ⊙ RMSNorm(Rᵀ·h'))  — two transforms per token at the very end.
// Nothing else changes, and no transform runs inside the blocks: the readers take the rotated stream
// as it is, so the per-block input rotations of q/k/v and gate/up cost nothing at run time. (o_proj and
// down_proj read attention and MLP activations, not the stream: --rotation residual still rotates
// their inputs per layer.) R is a randomised Hadamard transform over the hidden width
// (arrowquant/input_rotation.h), recorded in the file (docs/FORMAT.md), so any reader can undo it.
#pragma once
#include <memory>
#include <string>

#include "arrowquant/input_rotation.h"
#include "arrowquant/tensor.h"
#include "arrowquant/tensor_source.h"

namespace arrowquant {

// What a tensor of a Llama-family decoder (HF names) is to the residual stream.
enum class ResidualRole { Other, Table, Reader, Writer, WriterBias, BlockNorm, FinalNorm, Head };
ResidualRole residual_role(const std::string& name);
// The norm whose γ a reader's input is scaled by ("model.layers.N.input_layernorm.weight" for q/k/v,
// "...post_attention_layernorm.weight" for gate/up); "" for other tensors.
std::string reader_norm(const std::string& name);

// Values of a tensor of shape `shape` into the rotated model (gamma: the reader's norm weight, only
// for Reader), and back into an equivalent standard model (readers keep γ folded, block norms stay 1).
void rotate_residual(const PreparedRotation& r, ResidualRole role, const Shape& shape, float* values,
                     const float* gamma);
void unrotate_residual(const PreparedRotation& r, ResidualRole role, const Shape& shape, float* values);

// A float decoder's tensors presented as the rotated model, one tensor at a time, for quantisation;
// residual_rotation() says so. ValueError for a model that is not a Llama-family decoder, is already
// quantised, or whose width has no Hadamard block.
std::shared_ptr<const TensorSource> rotated_residual_source(std::shared_ptr<const TensorSource> base, uint64_t seed,
                                                            int64_t max_block);
// A model stored rotated, read back as the equivalent standard decoder (γ folded into the readers,
// block norms 1): what an export to float weights writes. Any other source is returned as it is.
std::shared_ptr<const TensorSource> unrotated_residual_source(std::shared_ptr<const TensorSource> stored);

}  // namespace arrowquant
