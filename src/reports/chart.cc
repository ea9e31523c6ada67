#include "reports/chart.h"

#include <cairo.h>

#include <algorithm>
#include <cmath>

#include "arrowquant/error.h"
#include "util/files.h"

namespace arrowquant {

namespace {

const double kColors[][3] = {{0.85, 0.15, 0.15}, {0.95, 0.55, 0.05}, {0.15, 0.45, 0.85},
                             {0.1, 0.6, 0.25}, {0.55, 0.25, 0.7}, {0.4, 0.4, 0.4}};
const double* color(size_t i) { return kColors[i % (sizeof kColors / sizeof kColors[0])]; }

struct Canvas {
  cairo_surface_t* surface;
  cairo_t* cr;
  Canvas(int w, int h) {
    surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    cr = cairo_create(surface);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  }
  ~Canvas() {
    cairo_destroy(cr);
    cairo_surface_destroy(surface);
  }
  void text(double x, double y, const std::string& s, double size, double align = 0, bool vertical = false) {
    cairo_set_font_size(cr, size);
    cairo_text_extents_t e;
    cairo_text_extents(cr, s.c_str(), &e);
    cairo_save(cr);
    cairo_move_to(cr, x, y);
    if (vertical) cairo_rotate(cr, -M_PI / 2);
    cairo_rel_move_to(cr, -e.width * align, 0);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    cairo_show_text(cr, s.c_str());
    cairo_restore(cr);
  }
  void line(double x0, double y0, double x1, double y1, double gray, double width = 1) {
    cairo_set_source_rgb(cr, gray, gray, gray);
    cairo_set_line_width(cr, width);
    cairo_move_to(cr, x0, y0);
    cairo_line_to(cr, x1, y1);
    cairo_stroke(cr);
  }
  void save(const std::string& path) {
    AtomicFile f(path);
    if (cairo_surface_write_to_png(surface, f.temp_path().c_str()) != CAIRO_STATUS_SUCCESS)
      throw IoError("cannot write the chart " + path);
    f.commit();
  }
};

struct Axis {
  double lo, hi;
  bool log;
  double pos(double v, double a, double b) const {
    const double t = log ? (std::log10(v) - lo) / (hi - lo) : (v - lo) / (hi - lo);
    return a + t * (b - a);
  }
  std::string label(double tick) const {
    char buf[32];
    if (log) snprintf(buf, sizeof buf, "1e%d", int(std::lround(tick)));
    else snprintf(buf, sizeof buf, "%.3g", tick);
    return buf;
  }
};

Axis make_axis(const std::vector<ChartSeries>& series, bool use_x, bool log) {
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& s : series)
    for (double v : use_x ? s.x : s.y) {
      if (!std::isfinite(v) || (log && v <= 0)) continue;
      const double t = log ? std::log10(v) : v;
      lo = std::min(lo, t);
      hi = std::max(hi, t);
    }
  if (!std::isfinite(lo)) { lo = 0; hi = 1; }
  if (log) { lo = std::floor(lo); hi = std::ceil(hi); }
  if (hi - lo < 1e-12) { lo -= 0.5; hi += 0.5; }
  if (!log) { const double pad = (hi - lo) * 0.05; lo -= pad; hi += pad; }
  return {lo, hi, log};
}

std::vector<double> ticks(const Axis& a) {
  std::vector<double> t;
  if (a.log) {
    for (double v = a.lo; v <= a.hi + 1e-9; v += 1) t.push_back(v);
    return t;
  }
  const double step = std::pow(10, std::floor(std::log10((a.hi - a.lo) / 4)));
  for (double v = std::ceil(a.lo / step) * step; v <= a.hi; v += step) t.push_back(v);
  return t;
}

void legend(Canvas& c, const std::vector<ChartSeries>& series, double x, double y) {
  for (size_t i = 0; i < series.size(); ++i) {
    const double* col = color(i);
    cairo_set_source_rgb(c.cr, col[0], col[1], col[2]);
    cairo_arc(c.cr, x + 5, y + i * 16 - 4, 4, 0, 2 * M_PI);
    cairo_fill(c.cr);
    c.text(x + 14, y + i * 16, series[i].name, 11);
  }
}

}  // namespace

void write_dot_rows_png(const std::string& path, const std::string& title, const std::string& x_label,
                        const std::vector<std::string>& rows, const std::vector<ChartSeries>& series, bool log_x) {
  const int row_h = 14, left = 330, right = 130, top = 50, bottom = 50, plot_w = 560;
  const int W = left + plot_w + right, H = top + bottom + std::max<int>(1, int(rows.size())) * row_h;
  Canvas c(W, H);
  c.text(W / 2.0, 24, title, 15, 0.5);
  const Axis ax = make_axis([&] {
    std::vector<ChartSeries> s = series;
    for (auto& v : s) v.y = v.x;
    return s;
  }(), true, log_x);
  for (double t : ticks(ax)) {
    const double x = ax.pos(log_x ? std::pow(10, t) : t, left, left + plot_w);
    c.line(x, top, x, H - bottom, 0.88);
    c.text(x, H - bottom + 16, ax.label(t), 10, 0.5);
  }
  c.text(left + plot_w / 2.0, H - 12, x_label, 12, 0.5);
  for (size_t r = 0; r < rows.size(); ++r) {
    const double y = top + (double(r) + 0.5) * row_h;
    if (r % 2 == 0) {
      cairo_set_source_rgb(c.cr, 0.96, 0.96, 0.96);
      cairo_rectangle(c.cr, left, y - row_h / 2.0, plot_w, row_h);
      cairo_fill(c.cr);
    }
    std::string name = rows[r];
    if (name.size() > 52) name = "…" + name.substr(name.size() - 51);
    c.text(left - 6, y + 4, name, 10, 1);
    for (size_t s = 0; s < series.size(); ++s) {
      if (r >= series[s].x.size()) continue;
      const double v = series[s].x[r];
      if (!std::isfinite(v) || (log_x && v <= 0)) continue;
      const double* col = color(s);
      cairo_set_source_rgb(c.cr, col[0], col[1], col[2]);
      cairo_arc(c.cr, ax.pos(v, left, left + plot_w), y, 3.5, 0, 2 * M_PI);
      cairo_fill(c.cr);
    }
  }
  c.line(left, top, left, H - bottom, 0.3);
  c.line(left, H - bottom, left + plot_w, H - bottom, 0.3);
  legend(c, series, left + plot_w + 12, top + 10);
  c.save(path);
}

void write_line_chart_png(const std::string& path, const std::string& title, const std::string& x_label,
                          const std::string& y_label, const std::vector<ChartSeries>& series, bool log_y) {
  const int W = 820, H = 520, left = 80, right = 150, top = 50, bottom = 55;
  const int pw = W - left - right, ph = H - top - bottom;
  Canvas c(W, H);
  c.text(W / 2.0, 24, title, 15, 0.5);
  const Axis ax = make_axis(series, true, false), ay = make_axis(series, false, log_y);
  for (double t : ticks(ax)) {
    const double x = ax.pos(t, left, left + pw);
    c.line(x, top, x, top + ph, 0.9);
    c.text(x, top + ph + 16, ax.label(t), 10, 0.5);
  }
  for (double t : ticks(ay)) {
    const double y = ay.pos(log_y ? std::pow(10, t) : t, top + ph, top);
    c.line(left, y, left + pw, y, 0.9);
    c.text(left - 6, y + 4, ay.label(t), 10, 1);
  }
  c.line(left, top, left, top + ph, 0.3);
  c.line(left, top + ph, left + pw, top + ph, 0.3);
  c.text(left + pw / 2.0, H - 14, x_label, 12, 0.5);
  c.text(18, top + ph / 2.0, y_label, 12, 0.5, true);
  for (size_t s = 0; s < series.size(); ++s) {
    const double* col = color(s);
    std::vector<std::pair<double, double>> pts;
    for (size_t i = 0; i < series[s].x.size() && i < series[s].y.size(); ++i)
      if (std::isfinite(series[s].x[i]) && std::isfinite(series[s].y[i]) && (!log_y || series[s].y[i] > 0))
        pts.push_back({ax.pos(series[s].x[i], left, left + pw), ay.pos(series[s].y[i], top + ph, top)});
    std::sort(pts.begin(), pts.end());
    cairo_set_source_rgb(c.cr, col[0], col[1], col[2]);
    cairo_set_line_width(c.cr, 2);
    for (size_t i = 0; i < pts.size(); ++i) {
      if (i == 0) cairo_move_to(c.cr, pts[i].first, pts[i].second);
      else cairo_line_to(c.cr, pts[i].first, pts[i].second);
    }
    cairo_stroke(c.cr);
    for (auto& p : pts) {
      cairo_arc(c.cr, p.first, p.second, 4, 0, 2 * M_PI);
      cairo_fill(c.cr);
    }
  }
  legend(c, series, left + pw + 12, top + 10);
  c.save(path);
}

}  // namespace arrowquant
