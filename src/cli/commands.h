// Each subcommand registers its options on the CLI11 app and returns the function that runs it.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace arrowquant::cli {

using Runner = std::function<int()>;
Runner add_quantize(CLI::App& app);
Runner add_inspect(CLI::App& app);
Runner add_dequantize(CLI::App& app);
Runner add_bench(CLI::App& app);
Runner add_encode(CLI::App& app);
Runner add_bench_encode(CLI::App& app);  // under `bench`
Runner add_bench_decode(CLI::App& app);  // under `bench`
Runner add_bench_kernels(CLI::App& app);  // under `bench`
Runner add_validate(CLI::App& app);
Runner add_generate(CLI::App& app);
Runner add_ppl(CLI::App& app);

}  // namespace arrowquant::cli
