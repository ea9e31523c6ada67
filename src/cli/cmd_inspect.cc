#include <cstdio>

#include "arrowquant/quantization_manager.h"
#include "arrowquant/tensor_source.h"
#include "util/units.h"
#include "cli/commands.h"

namespace arrowquant::cli {

namespace {

// Any other model file: its tensors as stored (GGUF types, safetensors dtypes) and its config.
int inspect_source(const std::string& path, const TensorSource& src, bool json) {
  size_t bytes = 0;
  int64_t params = 0;
  nlohmann::json tensors = nlohmann::json::array();
  for (const auto& t : src.tensors()) {
    const std::string type = t.stored_type.empty() ? std::string(dtype_name(t.dtype)) : t.stored_type;
    const size_t b = t.stored_bytes ? t.stored_bytes : size_t(num_elements(t.shape)) * dtype_size(t.dtype);
    tensors.push_back({{"name", t.name}, {"shape", t.shape}, {"type", type}, {"bytes", b}});
    bytes += b;
    params += num_elements(t.shape);
  }
  if (json) {
    printf("%s\n", nlohmann::json({{"path", path}, {"kind", src.kind()}, {"config", src.model_config()},
                                   {"tensors", tensors}, {"bytes", bytes}, {"parameters", params}})
                       .dump(2)
                       .c_str());
    return 0;
  }
  printf("%s: %s, %zu tensors\n\n", path.c_str(), src.kind().c_str(), src.tensors().size());
  printf("%-52s %-16s %-8s %7s %12s\n", "tensor", "shape", "type", "bits/w", "bytes");
  for (const auto& t : tensors) {
    const double n = double(num_elements(t["shape"].get<Shape>()));
    printf("%-52s %-16s %-8s %7.3f %12zu\n", t["name"].get<std::string>().c_str(),
           shape_str(t["shape"].get<Shape>()).c_str(), t["type"].get<std::string>().c_str(),
           8.0 * t["bytes"].get<double>() / n, t["bytes"].get<size_t>());
  }
  printf("\ntotal: %lld parameters, %zu bytes of tensors (%.3f bits/weight)\n", (long long)params, bytes,
         params ? 8.0 * double(bytes) / double(params) : 0.0);
  return 0;
}

}  // namespace

Runner add_inspect(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto verify = std::make_shared<bool>(false);
  app.add_option("FILE", *path, "A Parquet weights file (V1 or V2), a GGUF, safetensors or llama2.c file, or a model folder")
      ->required();
  app.add_flag("--json", *json, "Print JSON instead of a table");
  app.add_flag("--verify", *verify, "Check every row's checksum (reads the whole file)");
  return [=]() {
    auto src = open_tensor_source(*path);
    if (src->kind().rfind("parquet", 0) != 0) return inspect_source(*path, *src, *json);
    auto w = WeightLoader::open(*path);
    if (*verify)
      for (const auto& t : w->tensors()) w->verify_checksums(t);
    QuantizeReport r = QuantizationManager::report(*w);
    if (*json) {
      auto j = r.to_json();
      j["format_version"] = w->format_version();
      if (!w->residual_rotation().is_none()) j["residual_rotation"] = describe(w->residual_rotation());
      if (!w->time_groups().empty()) j["time_groups"] = w->time_groups().to_json();
      if (*verify) j["checksums"] = "ok";
      printf("%s\n", j.dump(2).c_str());
      return 0;
    }
    printf("%s: Parquet weights V%d, %zu tensors, %s\n", w->path().c_str(), w->format_version(),
           w->tensors().size(), human_bytes(double(r.file_bytes)).c_str());
    if (!w->residual_rotation().is_none())
      printf("residual stream rotated: %s (docs/FORMAT.md, \"Rotated residual stream\")\n",
             describe(w->residual_rotation()).c_str());
    if (const TimeGroupClips& tg = w->time_groups(); !tg.empty())
      printf("static int8 activation clips: %lld timestep groups of %lld timesteps, %zu Linears (--static-activations)\n",
             (long long)tg.groups, (long long)(tg.train_timesteps / tg.groups), tg.clips.size());
    printf("\n");
    bool rotated = false;
    for (const auto& t : r.tensors) rotated |= !t.rotation.empty();
    printf("%-52s %-16s %-10s %6s %7s %12s %9s %9s%s\n", "tensor", "shape", "format", "group", "bits/w", "bytes",
           "rel_rmse", "cosine", rotated ? "  rotation" : "");
    size_t bytes = 0;
    int64_t params = 0;
    for (const auto& t : r.tensors) {
      char e1[16] = "-", e2[16] = "-";
      if (t.rel_rmse >= 0) { snprintf(e1, sizeof e1, "%.4f", t.rel_rmse); snprintf(e2, sizeof e2, "%.5f", t.cosine); }
      printf("%-52s %-16s %-10s %6lld %7.3f %12zu %9s %9s%s%s\n", t.name.c_str(), shape_str(t.shape).c_str(),
             t.format.c_str(), (long long)t.group_size, t.bits_per_weight, t.stored_bytes, e1, e2,
             t.rotation.empty() ? "" : "  ", t.rotation.c_str());
      bytes += t.stored_bytes;
      params += t.num_params;
    }
    printf("\ntotal: %lld parameters, %zu bytes of tensors (%.3f bits/weight), file %zu bytes%s\n",
           (long long)params, bytes, params ? 8.0 * double(bytes) / double(params) : 0.0, r.file_bytes,
           *verify ? ", checksums ok" : "");
    return 0;
  };
}

}  // namespace arrowquant::cli
