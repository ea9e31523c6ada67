// What kind of diffusion model a folder's JSON describes, for the ones recognisable but not runnable
// here yet: never a silent guess (a text diffusion LM quantised as a text decoder, an audio UNet's
// weights under an image profile).
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace arrowquant {

// FormatError naming the kind and "not supported yet" for a UNet or audio pipeline, a model_index.json
// without a transformer, or a text diffusion LM's config (model_type llada, dream, mdm, sedd); nothing
// otherwise. Either JSON may be null (the file is absent); `where` names the model in the message.
void refuse_unsupported_diffusion(const nlohmann::json* model_index, const nlohmann::json* config,
                                  const std::string& where);

}  // namespace arrowquant
