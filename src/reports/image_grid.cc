#include "reports/image_grid.h"

#include <cairo.h>

#include <algorithm>
#include <cmath>

#include "arrowquant/error.h"
#include "util/files.h"

namespace arrowquant {

void write_image_grid_png(const std::string& path, const Images& im, int64_t columns, int scale) {
  if (im.count < 1) throw ValueError("no images to write");
  if (im.channels != 1 && im.channels != 3)
    throw ValueError("images with " + std::to_string(im.channels) + " channels cannot be shown (1 or 3)");
  columns = std::clamp<int64_t>(columns, 1, im.count);
  scale = std::clamp(scale, 1, 16);
  const int64_t rows = (im.count + columns - 1) / columns, gap = 2;
  const int64_t cell_w = im.width * scale + gap, cell_h = im.height * scale + gap;
  const int W = int(columns * cell_w + gap), H = int(rows * cell_h + gap);
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
  cairo_surface_flush(surface);
  unsigned char* data = cairo_image_surface_get_data(surface);
  const int stride = cairo_image_surface_get_stride(surface);
  std::fill(data, data + int64_t(stride) * H, 0x40);  // dark grey gaps
  auto level = [](float v) { return uint32_t(std::lround((std::clamp(v, -1.0f, 1.0f) + 1.0f) * 127.5f)); };
  const int64_t plane = im.height * im.width;
  for (int64_t n = 0; n < im.count; ++n) {
    const float* px = im.image(n);
    const int64_t x0 = gap + (n % columns) * cell_w, y0 = gap + (n / columns) * cell_h;
    for (int64_t y = 0; y < im.height * scale; ++y)
      for (int64_t x = 0; x < im.width * scale; ++x) {
        const int64_t i = (y / scale) * im.width + x / scale;
        const uint32_t r = level(px[i]), g = im.channels == 3 ? level(px[plane + i]) : r,
                       b = im.channels == 3 ? level(px[2 * plane + i]) : r;
        auto* p = reinterpret_cast<uint32_t*>(data + (y0 + y) * stride) + x0 + x;
        *p = (r << 16) | (g << 8) | b;
      }
  }
  cairo_surface_mark_dirty(surface);
  {
    AtomicFile f(path);
    const cairo_status_t st = cairo_surface_write_to_png(surface, f.temp_path().c_str());
    cairo_surface_destroy(surface);
    if (st != CAIRO_STATUS_SUCCESS) throw IoError(path + ": cannot write the PNG");
    f.commit();
  }
}

}  // namespace arrowquant
