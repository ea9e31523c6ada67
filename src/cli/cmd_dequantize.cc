#include <cstdio>

#include "arrowquant/error.h"
#include "io/safetensors_writer.h"
#include <filesystem>

#include "arrowquant/tensor_source.h"
#include "model/residual_rotation.h"
#include "util/files.h"
#include "cli/commands.h"
#include "cli/progress.h"

namespace arrowquant::cli {

Runner add_dequantize(CLI::App& app) {
  auto in = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto dtype = std::make_shared<std::string>("float32");
  auto config = std::make_shared<bool>(false);
  app.add_option("FILE", *in, "A model: Parquet weights file or folder, GGUF, safetensors or llama2.c checkpoint")
      ->required();
  app.add_option("-o,--output", *out, "Output .safetensors file")->required();
  app.add_option("--dtype", *dtype, "Float type of the output: float32, float16 or bfloat16")
      ->check(CLI::IsMember({"float32", "float16", "bfloat16"}));
  app.add_flag("--write-config", *config, "Also write the model's config.json beside the output (a GGUF's as transformers spells it)");
  return [=]() {
    // A decoder stored with its residual stream rotated is written as the equivalent standard model.
    auto w = unrotated_residual_source(open_tensor_source(*in));
    const DType dt = dtype_from_name(*dtype);
    // Tensors are dequantised one at a time as the file is written: memory stays near one tensor.
    const auto& tensors = w->tensors();
    std::vector<SafetensorsWriteItem> items;
    for (const auto& t : tensors)
      items.push_back({t.name, (!t.format && !dtype_is_float(t.dtype)) ? t.dtype : dt, t.shape, nullptr});
    const std::string config_path = (std::filesystem::path(*out).parent_path() / "config.json").string();
    if (*config && w->model_config().empty()) throw ValueError(*in + " carries no model configuration for --write-config");
    Progress bar("dequantize");
    write_safetensors_streaming(
        *out, items,
        [&](size_t i) {
          const SourceTensorInfo& t = tensors[i];
          bar.update(i, tensors.size(), t.name);
          if (!t.format && !dtype_is_float(t.dtype)) return w->read_raw(t.name);
          FloatTensor f = w->read_f32(t.name);
          std::vector<uint8_t> b(f.values.size() * dtype_size(dt));
          convert_from_f32(dt, f.values.data(), f.values.size(), b.data());
          return b;
        },
        {{"format", "pt"}, {"arrowquant_source", *in}});
    bar.finish();
    printf("wrote %zu tensors to %s\n", items.size(), out->c_str());
    if (*config) {
      write_text_file(config_path, w->model_config().dump(2) + "\n");
      printf("wrote %s\n", config_path.c_str());
    }
    return 0;
  };
}

}  // namespace arrowquant::cli
