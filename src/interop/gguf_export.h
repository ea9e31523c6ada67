// An ArrowQuant decoder (llama or qwen2) as a llama.cpp GGUF file. Formats that GGUF holds exactly
// are copied code for code (int4_sym and int8_sym in groups of 32 become Q4_0 and Q8_0); every other
// one is dequantised and re-encoded into the nearest block type of its width, and its error is
// measured and reported per tensor. Each written tensor is decoded back and compared with our own
// dequantisation, so "exact" in the report is a measurement, not a promise.
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace arrowquant {

struct GgufTensorExport {
  std::string name;       // ours (Hugging Face)
  std::string gguf_name;  // llama.cpp's
  std::string source;     // "int4_sym g32", "float32", ...
  std::string type;       // the ggml type written
  bool exact = false;     // the GGUF dequantises to exactly our values
  double rel_rmse = 0;    // of the GGUF values against ours (0 when exact)
  size_t bytes = 0;
};

struct GgufExportReport {
  std::string architecture;
  std::vector<GgufTensorExport> tensors;
  size_t file_bytes = 0;
};

using ExportProgress = std::function<void(size_t done, size_t total, const std::string& tensor)>;

// model: an ArrowQuant model folder (or its model.parquet) that came from a GGUF or holds a
// tokenizer.gguf. Written atomically to out. FormatError for an encoder, an architecture GGUF export
// does not handle, a residual-rotated model, or a folder without a GGUF vocabulary.
GgufExportReport export_gguf(const std::string& model, const std::string& out, const ExportProgress& progress = {});

// Which of our formats GGUF holds exactly and what each other one becomes (for --help).
std::string gguf_export_rules();

}  // namespace arrowquant
