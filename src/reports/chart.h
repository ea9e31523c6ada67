// PNG charts for reports (cairo): a dot chart with one row per item (sensitivity per tensor and
// width) and a line chart (quality against bits per weight). Written atomically.
#pragma once
#include <string>
#include <vector>

namespace arrowquant {

struct ChartSeries {
  std::string name;
  std::vector<double> x, y;  // dot rows: x per row (NaN = no dot); lines: points
};

void write_dot_rows_png(const std::string& path, const std::string& title, const std::string& x_label,
                        const std::vector<std::string>& rows, const std::vector<ChartSeries>& series, bool log_x);
void write_line_chart_png(const std::string& path, const std::string& title, const std::string& x_label,
                          const std::string& y_label, const std::vector<ChartSeries>& series, bool log_y);

}  // namespace arrowquant
