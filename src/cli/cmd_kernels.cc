#include <cstdio>

#include <nlohmann/json.hpp>

#include "kernels/kernel_registry.h"
#include "kernels/cpu_targets.h"
#include "cli/commands.h"

namespace arrowquant::cli {

Runner add_kernels(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  app.add_flag("--json", *json, "Print JSON");
  return [json]() {
    const auto& reg = KernelRegistry::instance();
    if (*json) {
      nlohmann::json j = {{"cpu_features", kernels::cpu_features()}, {"simd_targets", kernels::compiled_targets()},
                          {"active_target", kernels::active_target()}, {"kernels", nlohmann::json::array()}};
      for (const auto& e : reg.entries())
        j["kernels"].push_back({{"format", e.format}, {"activation", activation_name(e.activation)}, {"backend", e.backend},
                                {"priority", e.priority}, {"available", e.available}, {"description", e.description},
                                {"unavailable_reason", e.unavailable_reason}});
      printf("%s\n", j.dump(2).c_str());
      return 0;
    }
    std::string targets;
    for (const auto& t : kernels::compiled_targets()) targets += t + " ";
    printf("CPU features: %s\nSIMD targets compiled in and usable here: %s(in use: %s)\n\n", kernels::cpu_features().c_str(),
           targets.c_str(), kernels::active_target().c_str());
    printf("%-10s %-5s %-7s %4s  %-9s %s\n", "format", "act", "backend", "prio", "available", "what");
    for (const auto& e : reg.entries())
      printf("%-10s %-5s %-7s %4d  %-9s %s\n", e.format.c_str(), activation_name(e.activation).c_str(), e.backend.c_str(),
             e.priority, e.available ? "yes" : "no", e.available ? e.description.c_str() : e.unavailable_reason.c_str());
    return 0;
  };
}

}  // namespace arrowquant::cli
