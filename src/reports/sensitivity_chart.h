// The sensitivity report of `arrowquant analyze` as a PNG: output (or weight) error per tensor and
// width, log scale, most sensitive first.
#pragma once
#include <string>

#include "arrowquant/sensitivity.h"

namespace arrowquant {

// Throws IoError on write failure (atomic: nothing is left half-written).
void write_sensitivity_png(const SensitivityReport& report, const std::string& path);

}  // namespace arrowquant
