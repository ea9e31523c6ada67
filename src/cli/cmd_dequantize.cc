#include <cstdio>

#include "arrowquant/error.h"
#include "io/safetensors_writer.h"
#include "arrowquant/weight_loader.h"
#include "cli/commands.h"
#include "cli/progress.h"

namespace arrowquant::cli {

Runner add_dequantize(CLI::App& app) {
  auto in = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto dtype = std::make_shared<std::string>("float32");
  app.add_option("FILE", *in, "A Parquet weights file or model folder")->required();
  app.add_option("-o,--output", *out, "Output .safetensors file")->required();
  app.add_option("--dtype", *dtype, "Float type of the output: float32, float16 or bfloat16")
      ->check(CLI::IsMember({"float32", "float16", "bfloat16"}));
  return [=]() {
    auto w = WeightLoader::open(*in);
    const DType dt = dtype_from_name(*dtype);
    // Tensors are dequantised one at a time as the file is written: memory stays near one tensor.
    const auto& tensors = w->tensors();
    std::vector<SafetensorsWriteItem> items;
    for (const auto& t : tensors)
      items.push_back({t.name, (!t.format && !dtype_is_float(t.dtype)) ? t.dtype : dt, t.shape, nullptr});
    Progress bar("dequantize");
    write_safetensors_streaming(
        *out, items,
        [&](size_t i) {
          const StoredTensor& t = tensors[i];
          bar.update(i, tensors.size(), t.name);
          if (!t.format && !dtype_is_float(t.dtype)) return w->raw_bytes(t.name);
          FloatTensor f = w->dequantize(t.name);
          std::vector<uint8_t> b(f.values.size() * dtype_size(dt));
          convert_from_f32(dt, f.values.data(), f.values.size(), b.data());
          return b;
        },
        {{"format", "pt"}, {"arrowquant_source", w->path()}});
    bar.finish();
    printf("wrote %zu tensors to %s\n", items.size(), out->c_str());
    return 0;
  };
}

}  // namespace arrowquant::cli
