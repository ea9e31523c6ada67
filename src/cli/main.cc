// arrowquant: the command line, a thin shell over the library.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>

#include "arrowquant/error.h"
#include "util/interrupt.h"
#include "util/version.h"
#include "cli/commands.h"

int main(int argc, char** argv) {
  using namespace arrowquant;
  CLI::App app{"ArrowQuant " ARROWQUANT_VERSION
               ": quantise transformer weights to 2-8 bits, stored as Parquet, loaded memory-mapped."};
  app.require_subcommand(1);
  app.set_version_flag("--version", ARROWQUANT_VERSION);
  std::map<CLI::App*, cli::Runner> runners;
  auto reg = [&](const char* name, const char* help, cli::Runner (*add)(CLI::App&)) {
    CLI::App* sub = app.add_subcommand(name, help);
    runners[sub] = add(*sub);
  };
  reg("quantize", "Quantise a model (HF folder, safetensors, GGUF, llama2.c .bin, or Parquet V1) into a model folder",
      cli::add_quantize);
  reg("inspect", "Show every tensor of a model file: format, shape, bits per weight, bytes (and error, for Parquet)",
      cli::add_inspect);
  reg("dequantize", "Write a model (quantised Parquet, GGUF, ...) as float safetensors, for other tools", cli::add_dequantize);
  reg("export",
      "Write an ArrowQuant model for another runtime: GGUF (llama.cpp), compressed-tensors (transformers, vLLM) or GPTQ, "
      "exact where the format allows",
      cli::add_export);
  reg("import",
      "Turn a quantised checkpoint of another library (compressed-tensors, GPTQ, AWQ, GGUF) into a model folder, its "
      "packed data kept",
      cli::add_import);
  reg("encode", "Sentence embeddings from an encoder model (original or quantised)", cli::add_encode);
  reg("validate", "Compare a quantised encoder with its original: embedding cosine, per-layer cosine, STS-B",
      cli::add_validate);
  reg("generate", "Generate text with a decoder model, streaming tokens as they come", cli::add_generate);
  reg("chat", "Talk to a chat model on the terminal, in its chat template, replies streaming", cli::add_chat);
  reg("sample", "Draw images from a class-conditional diffusion model (DiT): DDIM or DDPM, classifier-free guidance, "
      "a PNG grid", cli::add_sample);
  reg("tokenize", "Token ids of a text under a decoder model's tokenizer (as llama-tokenize prints them)",
      cli::add_tokenize);
  reg("ppl", "Perplexity of a decoder on a text file; with --kl-base, KL divergence against the original",
      cli::add_ppl);
  reg("kernels", "List the product kernels (format, activations, backend, priority) and the CPU features found",
      cli::add_kernels);
  reg("analyze", "Rank tensors by sensitivity (weight entropy, weight error, layer output error) at each width",
      cli::add_analyze);
  reg("compare", "Quantise with several methods and widths and tabulate size, quality and time",
      cli::add_compare);
  reg("bench", "Benchmarks (bench load: time to open and dequantise weight files)", cli::add_bench);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  install_interrupt_handler();
  try {
    for (auto* sub : app.get_subcommands())
      if (runners.count(sub)) return runners[sub]();
  } catch (const Error& e) {
    fprintf(stderr, "arrowquant: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    fprintf(stderr, "arrowquant: unexpected error: %s\n", e.what());
    return 2;
  }
  return 0;
}
