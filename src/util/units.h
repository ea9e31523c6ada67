// Sizes written for people.
#pragma once
#include <string>

namespace arrowquant {

std::string human_bytes(double bytes);  // "12.34 MB" (decimal units)

}  // namespace arrowquant
