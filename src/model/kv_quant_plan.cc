#include "arrowquant/kv_quant_plan.h"

#include "arrowquant/error.h"

namespace arrowquant {

KVQuantPlan KVQuantPlan::parse(const std::string& dtype, int64_t block_size, bool fp16_scales) {
  KVQuantPlan p;
  if (dtype == "f32" || dtype == "fp32" || dtype == "float32") p.dtype = KVDType::F32;
  else if (dtype == "f16" || dtype == "fp16" || dtype == "float16") p.dtype = KVDType::F16;
  else if (dtype == "int8") p.dtype = KVDType::Int8;
  else if (dtype == "fp8" || dtype == "fp8_e4m3") p.dtype = KVDType::Fp8E4M3;
  else throw ValueError("unknown KV cache type '" + dtype + "' (f32, f16, int8, fp8)");
  if (block_size < 0) throw ValueError("KV block size must be positive (0 = one head)");
  p.block_size = block_size;
  p.fp16_scales = fp16_scales;
  return p;
}

std::string KVQuantPlan::name() const {
  switch (dtype) {
    case KVDType::F32: return "f32";
    case KVDType::F16: return "f16";
    case KVDType::Int8: return "int8";
    case KVDType::Fp8E4M3: return "fp8_e4m3";
  }
  return "?";
}

std::string KVQuantPlan::describe() const {
  if (dtype == KVDType::F32 || dtype == KVDType::F16) return name();
  return name() + ", block of " + (block_size > 0 ? std::to_string(block_size) + " elements" : "one head") + ", " +
         (fp16_scales ? "fp16" : "fp32") + " scales";
}

}  // namespace arrowquant
