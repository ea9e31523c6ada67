#include <cstdio>

#include "arrowquant/error.h"
#include "arrowquant/safetensors.h"
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
    std::vector<std::vector<uint8_t>> bufs;
    std::vector<SafetensorsWriteItem> items;
    Progress bar("dequantize");
    size_t i = 0;
    for (const auto& t : w->tensors()) {
      bar.update(i++, w->tensors().size(), t.name);
      if (!t.format && !dtype_is_float(t.dtype)) {
        bufs.push_back(w->raw_bytes(t.name));
        items.push_back({t.name, t.dtype, t.shape, nullptr});
        continue;
      }
      FloatTensor f = w->dequantize(t.name);
      std::vector<uint8_t> b(f.values.size() * dtype_size(dt));
      convert_from_f32(dt, f.values.data(), f.values.size(), b.data());
      bufs.push_back(std::move(b));
      items.push_back({t.name, dt, t.shape, nullptr});
    }
    bar.finish();
    for (size_t k = 0; k < items.size(); ++k) items[k].data = bufs[k].data();
    write_safetensors(*out, items, {{"format", "pt"}, {"arrowquant_source", w->path()}});
    printf("wrote %zu tensors to %s\n", items.size(), out->c_str());
    return 0;
  };
}

}  // namespace arrowquant::cli
