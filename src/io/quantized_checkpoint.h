// Safetensors models quantised by other libraries, read as they are: compressed-tensors
// (pack-quantized, int-quantized, float-quantized), GPTQ (v1 and v2 checkpoints), AWQ (GEMM) and
// AngelSlim's w4a8_awq (int4 pairs in int8 bytes, FP8 block layers). Told from
// config.json's quantization_config, never declared. Each quantised Linear is offered as one tensor
// `<module>.weight` in the format of our table that holds it exactly (packed views for the kernels,
// the reference dequantisation for read_f32), so an imported model runs at its original size:
//   compressed-tensors  weight_packed rows are our lsb_rows_v1 rows (a view when in·bits fills whole
//                       int32 words, else each row cut to its bytes); zero points packed down the rows
//   GPTQ                qweight columns are our rows (a word transpose); qzeros packed along the rows,
//                       stored as zero − 1 by v1 checkpoints (wrapped to the code range, as the
//                       libraries' own v1 → v2 conversion does)
//   AWQ GEMM            8 nibbles per int32 in the order 0,2,4,6,1,3,5,7 of the output columns
//   AngelSlim w4a8_awq  qweight bytes are our int4 rows with each nibble's sign bit flipped; its FP8
//                       layers' weight_scale_inv blocks are groups along the rows, shared down them
// Scales become float16 (a bf16 scale outside float16's normal range is rounded, and counted in the
// tensor's stored_type). A GPTQ tensor made with act-order (g_idx not i / group) has no exact form in
// our table: it is offered in float (dequantised with its g_idx).
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "arrowquant/tensor.h"
#include "arrowquant/tensor_source.h"

namespace arrowquant {

// A tensor of the underlying safetensors model by name, as a view into its memory map; nullptr when
// there is none. Must stay valid as long as the source does.
using FindTensorView = std::function<const TensorView*(const std::string& name)>;

// `base` unchanged when its model_config() has no quantization_config; else a source that reads the
// quantised checkpoint (owning base). FormatError naming `where` and the tensor for an unknown
// quant_method or format and for inconsistent tensors (shapes, dtypes, g_idx out of range).
std::unique_ptr<TensorSource> open_quantized_checkpoint(std::unique_ptr<TensorSource> base, FindTensorView find,
                                                        const std::string& where);

}  // namespace arrowquant
