#include "reports/sensitivity_chart.h"

#include <algorithm>
#include <cmath>

#include "reports/chart.h"

namespace arrowquant {

void write_sensitivity_png(const SensitivityReport& rep, const std::string& path) {
  std::vector<const TensorSensitivity*> order;
  for (const auto& t : rep.tensors) order.push_back(&t);
  const int narrow = rep.widths.empty() ? 2 : *std::min_element(rep.widths.begin(), rep.widths.end());
  std::stable_sort(order.begin(), order.end(),
                   [&](auto* a, auto* b) { return a->at(narrow)->cost() > b->at(narrow)->cost(); });
  std::vector<std::string> rows;
  std::vector<ChartSeries> series;
  for (int b : rep.widths) series.push_back({"INT" + std::to_string(b), {}, {}});
  bool any_output = false;
  for (const auto* t : order) {
    rows.push_back(t->name + (t->widths.empty() || t->widths[0].output_rel_mse < 0 ? " (w)" : ""));
    for (size_t i = 0; i < rep.widths.size(); ++i) {
      const WidthSensitivity* w = t->at(rep.widths[i]);
      series[i].x.push_back(w ? w->cost() : NAN);
      any_output |= w && w->output_rel_mse >= 0;
    }
  }
  write_dot_rows_png(path, "Sensitivity of " + rep.model,
                     any_output ? "relative output MSE on calibration data ((w): squared weight error)"
                                : "squared relative weight error",
                     rows, series, true);
}

}  // namespace arrowquant
