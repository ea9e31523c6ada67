// The quantisation methods and clipping rules: the values the quantisers take and the names the
// settings use (QuantConfig, the command line, YAML, reports).
#pragma once
#include <string>

#include "arrowquant/input_rotation.h"
#include "arrowquant/quant_format.h"
#include "arrowquant/settings.h"

namespace arrowquant {

enum class Method { Rtn, Gptq, Awq, SmoothQuant };
inline constexpr EnumOption kMethodNames[] = {{int(Method::Rtn), "rtn"},
                                              {int(Method::Gptq), "gptq"},
                                              {int(Method::Awq), "awq"},
                                              {int(Method::SmoothQuant), "smoothquant"}};
inline std::string method_name(Method m) { return std::string(enum_option_name(kMethodNames, int(m))); }

enum class ClipMethod {
  MinMax,  // the group's range (always including zero for affine formats)
  Mse,     // shrink the range over a grid and keep the scale with least squared error
};
inline constexpr EnumOption kClipNames[] = {{int(ClipMethod::MinMax), "minmax"}, {int(ClipMethod::Mse), "mse"}};
inline std::string clip_name(ClipMethod c) { return std::string(enum_option_name(kClipNames, int(c))); }

// The rotation weight matrices are quantised in (input_rotation.h): auto = hadamard for GPTQ, whose
// full Hessian follows the rotated inputs (measured better on every model here), none otherwise
// (importance-weighted RTN loses its per-channel importance to the rotation). residual: decoders'
// residual stream rotated offline (model/residual_rotation.h), the other inputs as hadamard.
enum class RotationChoice { Auto, None, Hadamard, Residual };
inline constexpr EnumOption kRotationNames[] = {{int(RotationChoice::Auto), "auto"},
                                                {int(RotationChoice::None), "none"},
                                                {int(RotationChoice::Hadamard), "hadamard"},
                                                {int(RotationChoice::Residual), "residual"}};

// A serving engine whose quantised checkpoints the run must fit (`arrowquant export`): any (none), or
// vllm — integer grids of 4 or 8 bits (what vLLM's compressed-tensors and GPTQ Marlin kernels run),
// no rotation, fused siblings (q/k/v, gate/up) in one format, each GPU's share of a row whole groups.
enum class ExportCompatible { None, Vllm };
inline constexpr EnumOption kExportCompatibleNames[] = {{int(ExportCompatible::None), "none"},
                                                        {int(ExportCompatible::Vllm), "vllm"}};

// Non-uniform levels (quant_format.h): none (the uniform grid), nf (NormalFloat), gauss (Lloyd-Max
// levels of a normal), lattice (8-weight vectors of an E8 lattice codebook, 2 bits), e4m3 / e5m2 (OCP
// fp8 values, 8 bits).
inline constexpr EnumOption kCodebookNames[] = {{int(Codebook::None), "none"},
                                                {int(Codebook::NormalFloat), "nf"},
                                                {int(Codebook::Gauss), "gauss"},
                                                {int(Codebook::Lattice), "lattice"},
                                                {int(Codebook::Fp8E4m3), "e4m3"},
                                                {int(Codebook::Fp8E5m2), "e5m2"}};

}  // namespace arrowquant
