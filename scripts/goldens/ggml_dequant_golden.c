// Golden for the ggml types whose dequantiser only ggml itself has (no `gguf` package version
// dequantises them): random blocks of each type named on the command line, each beside the float32
// values of the linked ggml's own to_float, in one GGUF written by ggml's gguf code. The C++ test
// (src/io/gguf_reader_test.cc) compares our dequantiser bit for bit.
//
// Built and run by scripts/goldens/make_ggml_dequant_goldens.sh against two ggml trees: upstream
// llama.cpp (Q1_0, Q2_0) and the branch of llama.cpp pull request 19357 (Q2_0C, AngelSlim's 2-bit
// type, stored there as type 40).
//
// Usage: ggml_dequant_golden OUT.gguf TYPE_ID...
// Every type here starts its block with one float16 scale; it is set to a finite random half (raw
// random bytes would make NaN and infinite scales), every other byte is random.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml.h"
#include "gguf.h"

static uint64_t state = 20261205;
static uint32_t next_random(void) {  // xorshift64*: the same bytes on every machine
  state ^= state >> 12, state ^= state << 25, state ^= state >> 27;
  return (uint32_t)((state * 2685821657736338717ull) >> 32);
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s OUT.gguf TYPE_ID...\n", argv[0]);
    return 2;
  }
  struct ggml_init_params params = {64 << 20, NULL, false};
  struct ggml_context* ctx = ggml_init(params);
  struct gguf_context* out = gguf_init_empty();
  gguf_set_val_str(out, "golden.source", "scripts/goldens/ggml_dequant_golden.c");
  for (int a = 2; a < argc; ++a) {
    const enum ggml_type type = (enum ggml_type)atoi(argv[a]);
    const struct ggml_type_traits* traits = ggml_get_type_traits(type);
    if (!traits->to_float || !traits->blck_size) {
      fprintf(stderr, "type %d has no dequantiser in this ggml\n", (int)type);
      return 1;
    }
    const int64_t blocks = 6, n = blocks * traits->blck_size;
    struct ggml_tensor* raw = ggml_new_tensor_1d(ctx, type, n);
    struct ggml_tensor* expected = ggml_new_tensor_1d(ctx, GGML_TYPE_F32, n);
    uint8_t* bytes = (uint8_t*)raw->data;
    for (size_t i = 0; i < ggml_nbytes(raw); ++i) bytes[i] = (uint8_t)next_random();
    for (int64_t b = 0; b < blocks; ++b) {
      const float scale = ((float)(next_random() % 2001) - 1000.0f) * 2e-5f;
      const ggml_fp16_t d = ggml_fp32_to_fp16(scale);
      memcpy(bytes + b * traits->type_size, &d, 2);
    }
    traits->to_float(raw->data, (float*)expected->data, n);
    char name[64];
    snprintf(name, sizeof name, "%s.raw", traits->type_name);
    ggml_set_name(raw, name);
    snprintf(name, sizeof name, "%s.expected", traits->type_name);
    ggml_set_name(expected, name);
    gguf_add_tensor(out, raw);
    gguf_add_tensor(out, expected);
    printf("%s: %lld values\n", traits->type_name, (long long)n);
  }
  if (!gguf_write_to_file(out, argv[1], false)) {
    fprintf(stderr, "cannot write %s\n", argv[1]);
    return 1;
  }
  gguf_free(out);
  ggml_free(ctx);
  return 0;
}
