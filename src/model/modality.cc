#include "model/modality.h"

#include "arrowquant/error.h"
#include "io/json_file.h"

namespace arrowquant {

void refuse_unsupported_diffusion(const nlohmann::json* model_index, const nlohmann::json* config,
                                  const std::string& where) {
  if (model_index && model_index->is_object()) {
    const nlohmann::json& idx = *model_index;
    const std::string pipeline = json_string(idx, "_class_name", "?", where);
    // Audio pipelines (AudioLDM, MusicLDM, Stable Audio) name a vocoder or say so in their class.
    if (idx.contains("vocoder") || pipeline.find("Audio") != std::string::npos ||
        pipeline.find("Music") != std::string::npos)
      throw FormatError(where + ": an audio diffusion pipeline (" + pipeline +
                        "): not supported yet (image DiT pipelines only)");
    if (idx.contains("unet"))
      throw FormatError(where + ": a UNet diffusion pipeline (" + pipeline +
                        "): not supported yet (image DiT pipelines only)");
    if (!idx.contains("transformer"))
      throw FormatError(where + ": model_index.json names no transformer: not a DiT pipeline");
  }
  if (config && config->is_object()) {
    const std::string type = json_string(*config, "model_type", "", where);
    for (const char* text_lm : {"llada", "dream", "mdm", "sedd"})
      if (type.find(text_lm) != std::string::npos)
        throw FormatError(where + ": a text diffusion language model (model_type '" + type +
                          "'): not supported yet (image DiT pipelines only)");
  }
}

}  // namespace arrowquant
