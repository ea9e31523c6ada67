// Another library's quantised checkpoint (compressed-tensors, GPTQ, AWQ: io/quantized_checkpoint.h,
// told from its files; a GGUF's Q4_0/Q5_0/Q8_0/Q2_0C tensors: io/gguf_source.h) as an ArrowQuant model
// folder, the packed data kept: each Linear stored in the
// format of our table that holds it exactly, its codes, scales and zero points copied, not
// requantised, so the imported model runs on our kernels at the size it had. Everything else is
// stored as the checkpoint stores it (float), quantised tensors without an exact format here (GGUF
// K-quants, GPTQ act-order) dequantised, each named in the report and the file's decisions. A float
// model holding AngelSlim's fake-quantised SEQ 2-bit weights has them found and stored as int2_half
// (interop/seq_snap.h).
#pragma once
#include <string>
#include <vector>

#include "interop/gguf_export.h"  // ExportProgress

namespace arrowquant {

struct ImportedTensor {
  std::string name;
  std::string source;  // "GPTQ int4 g128", "float16", ...
  std::string stored;  // our format ("int4_sym g128") or the float type
  bool packed = false;       // kept packed
  bool dequantised = false;  // quantised in the checkpoint, stored here in float (no exact format)
};

struct ImportReport {
  std::string source_kind;  // "compressed-tensors", "gptq", "awq", ...
  std::vector<ImportedTensor> tensors;
  size_t source_bytes = 0, file_bytes = 0;
  double max_snap_difference = 0;  // AngelSlim SEQ weights found in a float model: largest outer-level difference
};

// out: a new folder (atomically; refused when it exists).
ImportReport import_checkpoint(const std::string& checkpoint, const std::string& out, const ExportProgress& progress = {});

}  // namespace arrowquant
