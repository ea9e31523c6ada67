#include "pipeline/checkpoint.h"

#include <cstring>
#include <string_view>
#include <filesystem>
#include <fstream>

#include "arrowquant/error.h"
#include "util/files.h"

namespace fs = std::filesystem;

namespace arrowquant {

namespace {

constexpr char kMagic[8] = {'A', 'Q', 'C', 'K', 'P', 'T', '0', '2'};  // 02: rotations

class Writer {
 public:
  explicit Writer(std::ofstream& o) : o_(o) {}
  void u64(uint64_t v) { o_.write(reinterpret_cast<const char*>(&v), 8); }
  void str(const std::string& s) { u64(s.size()); o_.write(s.data(), std::streamsize(s.size())); }
  template <class T>
  void vec(const std::vector<T>& v) {
    u64(v.size());
    o_.write(reinterpret_cast<const char*>(v.data()), std::streamsize(v.size() * sizeof(T)));
  }

 private:
  std::ofstream& o_;
};

class Reader {
 public:
  Reader(std::string_view bytes, const std::string& where) : b_(bytes), where_(where) {}
  uint64_t u64() {
    need(8);
    uint64_t v;
    std::memcpy(&v, b_.data() + at_, 8);
    at_ += 8;
    return v;
  }
  std::string str() {
    const uint64_t n = u64();
    need(n);
    std::string s(b_.substr(at_, n));
    at_ += n;
    return s;
  }
  template <class T>
  std::vector<T> vec() {
    const uint64_t n = u64();
    if (n > b_.size() / sizeof(T) + 1) bad();
    need(n * sizeof(T));
    std::vector<T> v(n);
    if (n) std::memcpy(v.data(), b_.data() + at_, n * sizeof(T));  // an empty vector's data() may be null
    at_ += n * sizeof(T);
    return v;
  }
  bool done() const { return at_ == b_.size(); }
  [[noreturn]] void bad() const { throw FormatError(where_ + ": the checkpoint piece is damaged; rerun without --resume"); }

 private:
  void need(uint64_t n) const { if (n > b_.size() - at_) bad(); }
  std::string_view b_;  // the piece after its magic; the caller keeps the bytes alive
  std::string where_;
  size_t at_ = 0;
};

std::string piece_path(const std::string& dir, const std::string& key) { return (fs::path(dir) / (key + ".bin")).string(); }

}  // namespace

Checkpoint::Checkpoint(const std::string& output_dir, const nlohmann::json& manifest, bool resume) {
  std::string out = output_dir;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  dir_ = out + ".checkpoint";
  const std::string mpath = (fs::path(dir_) / "manifest.json").string();
  std::error_code ec;
  if (resume && fs::exists(mpath, ec)) {
    nlohmann::json old = nlohmann::json::parse(read_text_file(mpath), nullptr, false);
    if (old != manifest) {
      std::string what = "the settings";
      if (old.is_object() && old.value("source", "") != manifest.value("source", "")) what = "the source model";
      throw ValueError("--resume: the checkpoint in " + dir_ + " was made with different " + what +
                       "; rerun without --resume to start over");
    }
    return;
  }
  fs::remove_all(dir_, ec);
  fs::create_directories(dir_, ec);
  if (ec) throw IoError("cannot create the checkpoint folder " + dir_ + ": " + ec.message());
  write_text_file(mpath, manifest.dump(2) + "\n");
  created_ = true;
}

void Checkpoint::save(const std::string& key, const CheckpointPiece& p) const {
  AtomicFile f(piece_path(dir_, key));
  {
    std::ofstream o(f.temp_path(), std::ios::binary);
    Writer w(o);
    o.write(kMagic, 8);
    w.u64(p.quantized.size());
    for (const auto& q : p.quantized) {
      w.str(q.name);
      w.vec(q.shape);
      w.str(std::string(q.format->name));
      w.u64(uint64_t(q.geom.group_size));
      w.vec(q.codes);
      w.vec(q.scales);
      w.vec(q.zero_points);
      w.str(std::string(rotation_kind_name(q.rotation.kind)));
      w.u64(uint64_t(q.rotation.block));
      w.u64(q.rotation.seed);
    }
    w.u64(p.floats.size());
    for (const auto& [name, v] : p.floats) { w.str(name); w.vec(v); }
    w.u64(p.activations.size());
    for (const auto& a : p.activations) w.vec(a);
    w.str(p.decisions.dump());
    w.str(p.info.dump());
    if (!o) throw IoError("cannot write the checkpoint piece " + f.temp_path());
  }
  f.commit();
}

std::optional<CheckpointPiece> Checkpoint::load(const std::string& key) const {
  const std::string path = piece_path(dir_, key);
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  const std::string bytes = read_text_file(path);
  if (bytes.size() < 8 || std::memcmp(bytes.data(), kMagic, 8) != 0)
    throw FormatError(path + ": not an ArrowQuant checkpoint piece; rerun without --resume");
  Reader r(std::string_view(bytes).substr(8), path);
  CheckpointPiece p;
  for (uint64_t n = r.u64(), i = 0; i < n; ++i) {
    QuantizedTensor q;
    q.name = r.str();
    q.shape = r.vec<int64_t>();
    q.format = find_quant_format(r.str());
    if (!q.format) r.bad();
    q.geom = quant_geometry(q.shape, int64_t(r.u64()));
    q.codes = r.vec<uint8_t>();
    q.scales = r.vec<uint8_t>();
    q.zero_points = r.vec<uint8_t>();
    if (!rotation_kind_from_name(r.str(), q.rotation.kind)) r.bad();
    q.rotation.block = int64_t(r.u64());
    q.rotation.seed = r.u64();
    if (!rotation_problem(q.rotation, q.geom.cols).empty()) r.bad();
    if (q.codes.size() != size_t(q.geom.rows) * packed_row_bytes(q.geom.cols, q.format->bits) ||
        q.scales.size() != scale_bytes(q.geom) || q.zero_points.size() != zero_point_bytes(q.geom, *q.format))
      r.bad();
    p.quantized.push_back(std::move(q));
  }
  for (uint64_t n = r.u64(), i = 0; i < n; ++i) {
    std::string name = r.str();
    p.floats[name] = r.vec<float>();
  }
  for (uint64_t n = r.u64(), i = 0; i < n; ++i) p.activations.push_back(r.vec<float>());
  p.decisions = nlohmann::json::parse(r.str(), nullptr, false);
  p.info = nlohmann::json::parse(r.str(), nullptr, false);
  if (!r.done() || p.decisions.is_discarded()) r.bad();
  ++resumed_;
  return p;
}

void Checkpoint::remove() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

}  // namespace arrowquant
