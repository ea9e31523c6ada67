// Wall time for progress lines and reports.
#pragma once

namespace arrowquant {

double now_seconds();  // a steady clock, in seconds

}  // namespace arrowquant
