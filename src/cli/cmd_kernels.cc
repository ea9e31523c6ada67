#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "kernels/cpu_targets.h"
#include "kernels/kernel_registry.h"

namespace arrowquant::cli {

Runner add_kernels(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  app.add_flag("--json", *json, "Print JSON");
  app.footer("Every product kernel once, then which kernels each stored format has. A model's tensors take the\n"
             "available kernel of highest priority that takes their geometry; see --activations and\n"
             "--kernel-fallback on the commands that run models.");
  return [json]() {
    const auto& reg = KernelRegistry::instance();
    // The kernels in the order they first appear, with the formats that have them.
    std::vector<const KernelEntry*> kernels;
    std::map<const ProductKernel*, std::string> formats;
    for (const auto& e : reg.entries()) {
      if (!formats.count(e.kernel)) kernels.push_back(&e);
      formats[e.kernel] += (formats[e.kernel].empty() ? "" : " ") + std::string(e.format->name);
    }
    if (*json) {
      nlohmann::json j = {{"cpu_features", kernels::cpu_features()}, {"simd_targets", kernels::compiled_targets()},
                          {"active_target", kernels::active_target()}, {"kernels", nlohmann::json::array()}};
      const auto& amx = kernels::amx_int8_status();
      j["amx_int8"] = {{"usable", amx.usable}, {"reason", amx.reason}};
      for (const auto& e : reg.entries())
        j["kernels"].push_back({{"format", e.format->name}, {"kernel", e.kernel->name},
                                {"activation", activation_name(e.kernel->activation)},
                                {"backend", backend_name(e.kernel->backend)}, {"priority", e.kernel->priority},
                                {"available", e.available}, {"description", e.kernel->description},
                                {"unavailable_reason", e.unavailable_reason}});
      printf("%s\n", j.dump(2).c_str());
      return 0;
    }
    std::string targets;
    for (const auto& t : kernels::compiled_targets()) targets += t + " ";
    const auto& amx = kernels::amx_int8_status();
    printf("CPU features: %s\nSIMD targets compiled in and usable here: %s(in use: %s)\n", kernels::cpu_features().c_str(),
           targets.c_str(), kernels::active_target().c_str());
    // No AMX kernel yet: the line says whether one could run here (issue 15).
    printf("AMX-INT8: %s\n\n", amx.usable ? "usable here (no AMX kernel yet)" : ("not usable: " + amx.reason).c_str());
    printf("%-10s %-5s %-7s %4s  %-9s %s\n", "kernel", "act", "backend", "prio", "available", "what");
    for (const KernelEntry* e : kernels) {
      const ProductKernel& k = *e->kernel;
      printf("%-10s %-5s %-7s %4d  %-9s %s\n", std::string(k.name).c_str(), activation_name(k.activation).c_str(),
             backend_name(k.backend).c_str(), k.priority, e->available ? "yes" : "no",
             e->available ? std::string(k.description).c_str() : e->unavailable_reason.c_str());
      printf("%-10s formats: %s\n", "", formats[e->kernel].c_str());
    }
    return 0;
  };
}

}  // namespace arrowquant::cli
