#include "io/npy_writer.h"

#include <cstring>

#include "util/files.h"

namespace arrowquant {

std::string npy_bytes_f32(const std::vector<int64_t>& shape, const float* data) {
  std::string dims;
  int64_t n = 1;
  for (int64_t d : shape) {
    dims += (dims.empty() ? "" : ", ") + std::to_string(d);
    n *= d;
  }
  if (shape.size() == 1) dims += ",";  // numpy spells a 1-tuple (3,)
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Magic (6) + version (2) + length (2) + header + '\n' is padded to a multiple of 64 bytes.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(char(header.size() & 0xFF));
  out.push_back(char(header.size() >> 8));
  out += header;
  out.append(reinterpret_cast<const char*>(data), size_t(n) * sizeof(float));
  return out;
}

void write_npy_f32(const std::string& path, const std::vector<int64_t>& shape, const float* data) {
  write_text_file(path, npy_bytes_f32(shape, data));  // atomic, binary-safe
}

}  // namespace arrowquant
