#include "io/quantized_checkpoint.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include "arrowquant/error.h"
#include "format/pack.h"
#include "io/json_file.h"
#include "io/module_pattern.h"

namespace arrowquant {

namespace {

enum class Layout { CtPacked, CtInt8, Gptq, Awq, CtFloat8, Int4Pairs };

// One quantised Linear as the checkpoint stores it.
struct Module {
  std::string prefix;  // "model.layers.0.self_attn.q_proj"
  Layout layout;
  int bits = 0;
  bool symmetric = true;
  bool gptq_v1 = false;
  int64_t rows = 0, cols = 0, group = 0, groups = 1;
  const TensorView *data = nullptr, *scale = nullptr, *zero = nullptr, *g_idx = nullptr;
  bool act_order = false;  // g_idx not i / group: offered in float
  bool per_tensor = false;  // compressed-tensors strategy "tensor": one scale (and zero point)
  int64_t block_rows = 0;   // compressed-tensors strategy "block": rows sharing a scale (columns: group)
  double scale_rounding = 0;  // largest relative change of a scale rounded to float16
  size_t stored_bytes = 0;
};

// A module in our layout: owned rows (or a view of the checkpoint's), float16 scales, uint8 zeros.
struct Prepared {
  std::vector<uint8_t> codes, scales, zeros;
  PackedView view;
  std::vector<int32_t> column_group;  // act-order: the group of each input column
};

const std::set<std::string> kComponentSuffixes = {
    ".weight_packed", ".weight_scale", ".weight_zero_point", ".weight_shape", ".weight_g_idx",
    ".qweight",       ".qzeros",       ".scales",            ".g_idx",
    ".input_scale",   ".input_zero_point", ".input_global_scale",  // static activation ranges: ours are dynamic
    ".weight_scale_inv", ".weight_scale.int4"};                        // AngelSlim w4a8_awq

// A tensor's module and component suffix: "m.qweight" -> {"m", ".qweight"}; AngelSlim's two-part
// ".weight_scale.int4" kept whole.
std::pair<std::string, std::string> split_component(const std::string& name) {
  static const std::string kInt4Scale = ".weight_scale.int4";
  if (name.ends_with(kInt4Scale)) return {name.substr(0, name.size() - kInt4Scale.size()), kInt4Scale};
  const auto dot = name.rfind('.');
  if (dot == std::string::npos) return {"", ""};
  return {name.substr(0, dot), name.substr(dot)};
}

uint32_t word_at(const TensorView& v, int64_t i) {
  uint32_t w;
  std::memcpy(&w, v.data + 4 * i, 4);
  return w;
}

// Bits [bit, bit + bits) of a little-endian stream of int32 words starting at word `first`.
uint32_t field_at(const TensorView& v, int64_t first, int64_t bit, int bits) {
  uint64_t w = word_at(v, first + bit / 32);
  if ((bit % 32) + bits > 32) w |= uint64_t(word_at(v, first + bit / 32 + 1)) << 32;
  return uint32_t(w >> (bit % 32)) & ((1u << bits) - 1);
}

class QuantizedCheckpointSource : public TensorSource {
 public:
  QuantizedCheckpointSource(std::unique_ptr<TensorSource> base, FindTensorView find, const std::string& where)
      : base_(std::move(base)), find_(std::move(find)), where_(where) {
    config_ = base_->model_config();
    const nlohmann::json& qc = json_object(config_["quantization_config"], where_ + ": quantization_config");
    method_ = json_string(qc, "quant_method", "", where_ + ": quantization_config");
    if (method_ == "compressed-tensors") read_compressed_tensors(qc);
    else if (method_ == "gptq") read_gptq(qc);
    else if (method_ == "awq") read_awq(qc);
    else if (method_ == "w4a8_awq") read_angelslim_w4a8(qc);
    else
      throw FormatError(where_ + ": quantization_config.quant_method '" + method_ +
                        "' cannot be read (ArrowQuant reads compressed-tensors, gptq, awq and AngelSlim's w4a8_awq checkpoints)");
    config_.erase("quantization_config");  // what this source offers is the model, not its packing
    config_["arrowquant_source_format"] = method_;
    build_infos();
  }

  std::string kind() const override { return method_; }
  const std::vector<SourceTensorInfo>& tensors() const override { return infos_; }
  nlohmann::json model_config() const override { return config_; }
  std::vector<std::string> companion_files() const override {
    std::vector<std::string> out;
    for (const auto& f : base_->companion_files())  // config.json is written from model_config()
      if (!f.ends_with("/config.json") || f.ends_with("1_Pooling/config.json")) out.push_back(f);
    return out;
  }
  std::string calibrated_activations() const override { return activations_; }
  std::vector<uint8_t> read_raw(const std::string& name) const override {
    if (modules_.count(name)) throw ValueError("tensor " + name + " is quantised: read it as float or packed");
    return base_->read_raw(name);
  }

  FloatTensor read_f32(const std::string& name) const override {
    auto it = modules_.find(name);
    if (it == modules_.end()) return base_->read_f32(name);
    const Module& m = it->second;
    const Prepared& p = prepared(m);
    FloatTensor t{name, {m.rows, m.cols}, std::vector<float>(size_t(m.rows * m.cols))};
    if (!m.act_order) {
      dequantize_rows(p.view, 0, m.rows, t.values.data());
      return t;
    }
    std::vector<uint8_t> codes(size_t(m.cols));
    const size_t row_bytes = packed_row_bytes(m.cols, m.bits);
    for (int64_t r = 0; r < m.rows; ++r) {
      unpack_row(p.codes.data() + size_t(r) * row_bytes, m.cols, m.bits, codes.data());
      for (int64_t c = 0; c < m.cols; ++c) {
        const size_t k = size_t(r * m.groups + p.column_group[size_t(c)]);
        uint16_t s;
        std::memcpy(&s, p.scales.data() + 2 * k, 2);
        t.values[size_t(r * m.cols + c)] = f16_to_f32(s) * (float(codes[size_t(c)]) - float(p.zeros[k]));
      }
    }
    return t;
  }

  std::vector<PackedRows> read_packed(const std::string& name) const override {
    auto it = modules_.find(name);
    if (it == modules_.end() || it->second.act_order) return {};
    return {PackedRows{0, prepared(it->second).view}};
  }

 private:
  const TensorView& need(const std::string& name, DType dtype, size_t dims) const {
    const TensorView* v = find_(name);
    if (!v) throw FormatError(where_ + ": tensor " + name + " is missing");
    if (v->dtype != dtype && !(dtype == DType::F16 && dtype_is_float(v->dtype)))
      throw FormatError(where_ + ": tensor " + name + " holds " + std::string(dtype_name(v->dtype)) + ", expected " +
                        std::string(dtype_name(dtype)));
    if (v->shape.size() != dims)
      throw ShapeError(where_ + ": tensor " + name + " has shape " + shape_str(v->shape) + ", expected " +
                        std::to_string(dims) + " dimensions");
    return *v;
  }
  void expect_shape(const TensorView& v, const Shape& s) const {
    if (v.shape != s)
      throw ShapeError(where_ + ": tensor " + v.name + " has shape " + shape_str(v.shape) + ", expected " + shape_str(s));
  }
  void check_bits(int bits, const std::string& what) const {
    if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
      throw FormatError(where_ + ": " + what + ": " + std::to_string(bits) + "-bit weights cannot be read (2, 3, 4 or 8)");
  }
  void set_groups(Module& m, int64_t groups) const {
    if (groups <= 0 || m.cols % groups != 0)
      throw FormatError(where_ + ": " + m.prefix + ": " + std::to_string(groups) + " scale groups do not divide " +
                        std::to_string(m.cols) + " input columns");
    m.groups = groups;
    m.group = m.cols / groups;
  }

  // --- compressed-tensors -------------------------------------------------------------------------
  struct CtScheme {
    std::vector<std::string> targets;       // module names and classes ("Linear")
    std::vector<ModulePattern> target_patterns;  // the "re:" targets, compiled once
    int bits;
    bool symmetric;
    bool float8 = false;  // type "float": FP8 E4M3 weights
    std::string strategy;
    int64_t block_rows = 0, block_cols = 0;  // strategy "block"
  };

  void read_compressed_tensors(const nlohmann::json& qc) {
    const std::string where = where_ + ": quantization_config";
    const std::string format = json_string(qc, "format", "", where);
    std::vector<CtScheme> schemes;
    if (const nlohmann::json* groups = json_object_field(qc, "config_groups", where))
      for (const auto& [gname, g] : groups->items()) {
        const std::string gw = where + ".config_groups." + gname;
        const nlohmann::json* w = json_object_field(json_object(g, gw), "weights", gw);
        // W8A8 (int8 input activations): our int8-activation kernels are what it was made for.
        if (const nlohmann::json* in = json_object_field(g, "input_activations", gw))
          if (json_string(*in, "type", "", gw) == "int" && json_int(*in, "num_bits", 0, gw) == 8) activations_ = "int8";
        if (!w) continue;  // activations only
        CtScheme s;
        if (g.contains("targets") && g["targets"].is_array())
          for (const auto& t : g["targets"]) {
            if (!t.is_string()) continue;
            const std::string target = t.get<std::string>();
            if (target.rfind("re:", 0) == 0) s.target_patterns.emplace_back(target.substr(3), gw + ".targets");
            else s.targets.push_back(target);
          }
        const std::string type = json_string(*w, "type", "int", gw + ".weights");
        s.bits = int(json_int(*w, "num_bits", 0, gw + ".weights"));
        s.float8 = type == "float";
        if (s.float8 && s.bits != 8)
          throw FormatError(gw + ": " + std::to_string(s.bits) + "-bit float weights (FP4, MXFP) cannot be read (FP8 can)");
        if (!s.float8 && type != "int") throw FormatError(gw + ": weight type '" + type + "' cannot be read (int or float)");
        check_bits(s.bits, gw);
        s.symmetric = json_bool(*w, "symmetric", true, gw + ".weights");
        if (s.float8 && !s.symmetric) throw FormatError(gw + ": asymmetric FP8 weights cannot be read");
        s.strategy = json_string(*w, "strategy", "", gw + ".weights");
        if (s.strategy == "block") {
          const nlohmann::json b = w->value("block_structure", nlohmann::json());
          if (!b.is_array() || b.size() != 2 || !b[0].is_number_integer() || !b[1].is_number_integer() ||
              b[0].get<int64_t>() <= 0 || b[1].get<int64_t>() <= 0 || b[0].get<int64_t>() > (1 << 20) || b[1].get<int64_t>() > (1 << 20))
            throw FormatError(gw + ": strategy block needs block_structure [rows, columns]");
          s.block_rows = b[0].get<int64_t>(), s.block_cols = b[1].get<int64_t>();
        } else if (s.strategy != "group" && s.strategy != "channel" && s.strategy != "tensor") {
          throw FormatError(gw + ": weight strategy '" + s.strategy + "' cannot be read (group, channel, tensor or block)");
        }
        if (!w->value("actorder", nlohmann::json()).is_null() && w->value("actorder", nlohmann::json()) != false &&
            s.strategy != "group")
          throw FormatError(gw + ": actorder with strategy " + s.strategy + " cannot be read");
        schemes.push_back(std::move(s));
      }
    if (format != "pack-quantized" && format != "int-quantized" && format != "naive-quantized" &&
        format != "float-quantized" && format != "mixed-precision")
      throw FormatError(where + ": format '" + format +
                        "' cannot be read (pack-quantized, int-quantized, float-quantized and naive-quantized can)");
    for (const auto& t : base_->tensors()) {
      std::string prefix;
      Layout layout;
      if (t.name.ends_with(".weight_packed")) prefix = t.name.substr(0, t.name.size() - 14), layout = Layout::CtPacked;
      else if (t.name.ends_with(".weight") && (t.dtype == DType::I8 || t.dtype == DType::F8E4M3) &&
               find_(t.name.substr(0, t.name.size() - 7) + ".weight_scale"))
        prefix = t.name.substr(0, t.name.size() - 7), layout = t.dtype == DType::I8 ? Layout::CtInt8 : Layout::CtFloat8;
      else continue;
      const CtScheme& s = scheme_for(schemes, prefix);
      if (s.float8 != (layout == Layout::CtFloat8))
        throw FormatError(where_ + ": " + prefix + " is stored as " + (s.float8 ? "integers" : "FP8") +
                          " but its config group says " + (s.float8 ? "float" : "int"));
      Module m{prefix, layout, s.bits, s.symmetric};
      m.per_tensor = s.strategy == "tensor";
      const TensorView* scale_view = find_(prefix + ".weight_scale");
      const TensorView& scale = need(prefix + ".weight_scale", DType::F16, m.per_tensor && scale_view ? scale_view->shape.size() : 2);
      if (layout == Layout::CtPacked) {
        const TensorView& packed = need(prefix + ".weight_packed", DType::I32, 2);
        const TensorView* shape = find_(prefix + ".weight_shape");
        if (!shape || shape->shape != Shape{2} || (shape->dtype != DType::I64 && shape->dtype != DType::I32))
          throw FormatError(where_ + ": " + prefix + ".weight_shape is missing or not 2 integers");
        int64_t dims[2];
        for (int i = 0; i < 2; ++i) {
          if (shape->dtype == DType::I64) std::memcpy(&dims[i], shape->data + 8 * i, 8);
          else { int32_t d; std::memcpy(&d, shape->data + 4 * i, 4); dims[i] = d; }
        }
        m.rows = dims[0], m.cols = dims[1];
        // Bounded by weight_packed (itself bounded by the file) before any arithmetic on them.
        if (m.rows != packed.shape[0] || m.cols <= 0 || m.cols > packed.shape[1] * 32)
          throw FormatError(where_ + ": " + prefix + ".weight_shape [" + std::to_string(m.rows) + ", " + std::to_string(m.cols) +
                            "] does not fit weight_packed " + shape_str(packed.shape));
        expect_shape(packed, {m.rows, (m.cols * m.bits + 31) / 32});
        m.data = &packed;
      } else {
        const TensorView& w = need(prefix + ".weight", layout == Layout::CtInt8 ? DType::I8 : DType::F8E4M3, 2);
        if (s.bits != 8) throw FormatError(where_ + ": " + prefix + ": 8-bit weights in a " + std::to_string(s.bits) + "-bit scheme");
        m.rows = w.shape[0], m.cols = w.shape[1];
        m.data = &w;
      }
      if (s.block_rows) {  // one scale per block of block_rows x block_cols: groups of block_cols along each row
        if (scale.shape != Shape{(m.rows + s.block_rows - 1) / s.block_rows, (m.cols + s.block_cols - 1) / s.block_cols} ||
            m.cols % s.block_cols)
          throw ShapeError(where_ + ": tensor " + scale.name + " has shape " + shape_str(scale.shape) + ": not the " +
                            std::to_string(s.block_rows) + " x " + std::to_string(s.block_cols) + " blocks of " +
                            shape_str({m.rows, m.cols}) + " (rows must be whole blocks of columns)");
        m.block_rows = s.block_rows;
        m.groups = scale.shape[1], m.group = s.block_cols;
      } else if (m.per_tensor) {
        if (num_elements(scale.shape) != 1) throw FormatError(where_ + ": " + scale.name + " is not one per-tensor scale");
        set_groups(m, 1);
      } else {
        if (scale.shape[0] != m.rows)
          throw FormatError(where_ + ": tensor " + scale.name + " has " + std::to_string(scale.shape[0]) + " rows, expected " +
                            std::to_string(m.rows));
        set_groups(m, scale.shape[1]);
      }
      m.scale = &scale;
      if (!s.symmetric) {
        const TensorView* z = find_(prefix + ".weight_zero_point");
        if (!z) throw FormatError(where_ + ": tensor " + prefix + ".weight_zero_point is missing (asymmetric scheme)");
        const int64_t stored_rows = m.per_tensor ? 1 : m.rows;
        if (z->dtype == DType::I32 && layout == Layout::CtPacked) expect_shape(*z, {(stored_rows * m.bits + 31) / 32, m.groups});
        else if (z->dtype == DType::I8 && z->shape.size() == 2) expect_shape(*z, {stored_rows, m.groups});
        else throw FormatError(where_ + ": tensor " + z->name + " holds " + std::string(dtype_name(z->dtype)) + " " + shape_str(z->shape) + ": not zero points");
        m.zero = z;
      }
      if (const TensorView* gi = find_(prefix + ".weight_g_idx")) read_g_idx(m, *gi);
      add_module(std::move(m));
    }
  }

  const CtScheme& scheme_for(const std::vector<CtScheme>& schemes, const std::string& prefix) const {
    const CtScheme* by_class = nullptr;
    for (const auto& s : schemes) {
      for (const auto& t : s.targets) {
        if (t == prefix) return s;
        if (t.find('.') == std::string::npos && !by_class) by_class = &s;  // a module class ("Linear"): every quantised module here is one
      }
      for (const auto& p : s.target_patterns)
        if (p.matches_start_of(prefix)) return s;
    }
    if (by_class) return *by_class;
    throw FormatError(where_ + ": " + prefix + " is stored quantised but no config group of quantization_config targets it");
  }

  // --- GPTQ ---------------------------------------------------------------------------------------
  void read_gptq(const nlohmann::json& qc) {
    const std::string where = where_ + ": quantization_config";
    const int bits = int(json_int(qc, "bits", 0, where));
    const int64_t group = json_int(qc, "group_size", -1, where);
    const bool sym = json_bool(qc, "sym", true, where);
    std::string fmt = json_string(qc, "checkpoint_format", "", where);
    if (fmt.empty()) fmt = json_string(qc, "format", "gptq", where);
    if (fmt != "gptq" && fmt != "gptq_v2")
      throw FormatError(where + ": GPTQ checkpoint_format '" + fmt + "' cannot be read (gptq and gptq_v2 can)");
    // GPTQModel's per-module overrides: "+:regex" (or a bare regex) changes bits / group_size / sym,
    // "-:regex" leaves the module unquantised; the first match wins.
    struct Override {
      ModulePattern pattern;
      nlohmann::json settings;  // null: "-:", the module stays unquantised
    };
    std::vector<Override> overrides;
    if (const nlohmann::json* dyn = json_object_field(qc, "dynamic", where))
      for (const auto& [key, value] : dyn->items()) {
        const bool negative = key.rfind("-:", 0) == 0;
        const std::string re = key.rfind("+:", 0) == 0 || negative ? key.substr(2) : key;
        ModulePattern pattern(re, where + ".dynamic");
        overrides.push_back({std::move(pattern), negative ? nlohmann::json() : json_object(value, where + ".dynamic." + key)});
      }
    for (const auto& t : base_->tensors()) {
      if (!t.name.ends_with(".qweight")) continue;
      const std::string prefix = t.name.substr(0, t.name.size() - 8);
      int m_bits = bits;
      int64_t m_group = group;
      bool m_sym = sym;
      for (const auto& o : overrides) {
        if (!o.pattern.matches_start_of(prefix)) continue;
        if (o.settings.is_null())
          throw FormatError(where_ + ": " + prefix + " is stored quantised but quantization_config.dynamic excludes it");
        const std::string ow = where + ".dynamic";
        m_bits = int(json_int(o.settings, "bits", m_bits, ow));
        m_group = json_int(o.settings, "group_size", m_group, ow);
        m_sym = json_bool(o.settings, "sym", m_sym, ow);
        break;
      }
      check_bits(m_bits, "GPTQ " + prefix);
      Module m{prefix, Layout::Gptq, m_bits, m_sym, fmt == "gptq"};
      const TensorView& qw = need(t.name, DType::I32, 2);
      m.rows = qw.shape[1];
      m.cols = qw.shape[0] * 32 / m_bits;
      if (qw.shape[0] * 32 % m_bits != 0 || m.rows <= 0 || m.cols <= 0)
        throw ShapeError(where_ + ": tensor " + t.name + " has shape " + shape_str(qw.shape) + ": not " +
                          std::to_string(m_bits) + "-bit GPTQ words");
      const TensorView& sc = need(prefix + ".scales", DType::F16, 2);
      if (sc.shape[1] != m.rows) expect_shape(sc, {sc.shape[0], m.rows});
      if (m_group > 0 && (m.cols + m_group - 1) / m_group != sc.shape[0])
        throw FormatError(where_ + ": tensor " + sc.name + " has " + std::to_string(sc.shape[0]) + " groups; group_size " +
                          std::to_string(m_group) + " over " + std::to_string(m.cols) + " columns makes " +
                          std::to_string((m.cols + m_group - 1) / m_group));
      set_groups(m, sc.shape[0]);
      m.data = &qw, m.scale = &sc;
      m.zero = &need(prefix + ".qzeros", DType::I32, 2);
      expect_shape(*m.zero, {m.groups, (m.rows * m_bits + 31) / 32});
      if (const TensorView* gi = find_(prefix + ".g_idx")) read_g_idx(m, *gi);
      // GPTQ stores zero points even for symmetric models: symmetric in our table when all are the centre.
      for (int64_t g = 0; g < m.groups && m.symmetric; ++g)
        for (int64_t r = 0; r < m.rows && m.symmetric; ++r) m.symmetric = zero_at(m, r, g) == (1 << (m_bits - 1));
      add_module(std::move(m));
    }
  }

  // --- AWQ ----------------------------------------------------------------------------------------
  void read_awq(const nlohmann::json& qc) {
    const std::string where = where_ + ": quantization_config";
    const std::string version = json_string(qc, "version", "gemm", where);
    if (version != "gemm" && version != "GEMM")
      throw FormatError(where + ": AWQ version '" + version + "' cannot be read (gemm can)");
    int bits = int(json_int(qc, "bits", json_int(qc, "w_bit", 4, where), where));
    if (bits != 4) throw FormatError(where + ": AWQ with " + std::to_string(bits) + " bits cannot be read (4 can)");
    const bool zero_point = json_bool(qc, "zero_point", true, where);
    for (const auto& t : base_->tensors()) {
      if (!t.name.ends_with(".qweight")) continue;
      const std::string prefix = t.name.substr(0, t.name.size() - 8);
      Module m{prefix, Layout::Awq, 4, !zero_point};
      const TensorView& qw = need(t.name, DType::I32, 2);
      m.cols = qw.shape[0], m.rows = qw.shape[1] * 8;
      if (m.rows <= 0 || m.cols <= 0) throw FormatError(where_ + ": tensor " + t.name + " is empty");
      const TensorView& sc = need(prefix + ".scales", DType::F16, 2);
      if (sc.shape[1] != m.rows) expect_shape(sc, {sc.shape[0], m.rows});
      set_groups(m, sc.shape[0]);
      m.data = &qw, m.scale = &sc;
      if (zero_point) {
        m.zero = &need(prefix + ".qzeros", DType::I32, 2);
        expect_shape(*m.zero, {m.groups, m.rows / 8});
      }
      add_module(std::move(m));
    }
  }

  // --- AngelSlim w4a8_awq ----------------------------------------------------------------------------
  // What AngelSlim's mixed_weight_quantize writes (angelslim/compressor/quant/core/weight_quantize.py):
  // W4 Linears as qweight (int8 [out, in/2], two's-complement nibbles, input column 2j in the low
  // nibble), weight_scale.int4 ([out, in/group], w = q · scale) and weight_scale (the FP8 tensor scale
  // of TensorRT-LLM's W4A8 kernels, which the weights do not need); the layers of ignored_layers as
  // FP8 E4M3 weight with weight_scale_inv blocks (ignored_quantization_config.weight_block_size,
  // clipped to the matrix, possibly squeezed to fewer dimensions) or one weight_scale. Its static FP8
  // activations run here in float (or our int8).
  void read_angelslim_w4a8(const nlohmann::json& qc) {
    const std::string where = where_ + ": quantization_config";
    const int64_t group = json_int(qc, "weight_group_size", 128, where);
    int64_t block_rows = 0, block_cols = 0;
    if (const nlohmann::json* ic = json_object_field(qc, "ignored_quantization_config", where)) {
      const std::string iw = where + ".ignored_quantization_config";
      const std::string method = json_string(*ic, "quant_method", "fp8", iw);
      if (method != "fp8") throw FormatError(iw + ": quant_method '" + method + "' cannot be read (fp8 can)");
      const nlohmann::json b = ic->value("weight_block_size", nlohmann::json());
      if (!b.is_null()) {
        if (!b.is_array() || b.size() != 2 || !b[0].is_number_integer() || !b[1].is_number_integer() ||
            b[0].get<int64_t>() <= 0 || b[1].get<int64_t>() <= 0 || b[0].get<int64_t>() > (1 << 20) || b[1].get<int64_t>() > (1 << 20))
          throw FormatError(iw + ": weight_block_size must be [rows, columns]");
        block_rows = b[0].get<int64_t>(), block_cols = b[1].get<int64_t>();
      }
    }
    for (const auto& t : base_->tensors()) {
      if (t.name.ends_with(".qweight")) {
        const std::string prefix = t.name.substr(0, t.name.size() - 8);
        Module m{prefix, Layout::Int4Pairs, 4, true};
        const TensorView& qw = need(t.name, DType::I8, 2);
        m.rows = qw.shape[0], m.cols = qw.shape[1] * 2;
        const TensorView& sc = need(prefix + ".weight_scale.int4", DType::F16, 2);
        if (sc.shape[0] != m.rows) expect_shape(sc, {m.rows, sc.shape[1]});
        set_groups(m, sc.shape[1]);
        if (m.group != group)
          throw FormatError(where_ + ": tensor " + sc.name + " makes groups of " + std::to_string(m.group) +
                            " columns; weight_group_size says " + std::to_string(group));
        m.data = &qw, m.scale = &sc;
        add_module(std::move(m));
      } else if (t.name.ends_with(".weight") && t.dtype == DType::F8E4M3) {
        const std::string prefix = t.name.substr(0, t.name.size() - 7);
        Module m{prefix, Layout::CtFloat8, 8, true};
        const TensorView& w = need(t.name, DType::F8E4M3, 2);
        m.rows = w.shape[0], m.cols = w.shape[1];
        m.data = &w;
        if (const TensorView* inv = find_(prefix + ".weight_scale_inv")) {
          if (!block_rows)
            throw FormatError(where_ + ": tensor " + inv->name + " holds FP8 block scales but quantization_config has no "
                              "ignored_quantization_config.weight_block_size");
          const int64_t br = std::min(block_rows, m.rows), bc = std::min(block_cols, m.cols);
          const TensorView& s = need(inv->name, DType::F16, inv->shape.size());
          const int64_t blocks_down = (m.rows + br - 1) / br, blocks_across = (m.cols + bc - 1) / bc;
          if (num_elements(s.shape) != blocks_down * blocks_across || (s.shape.size() == 2 && s.shape != Shape{blocks_down, blocks_across}) ||
              m.cols % bc)
            throw ShapeError(where_ + ": tensor " + s.name + " has shape " + shape_str(s.shape) + ": not the " + std::to_string(br) +
                              " x " + std::to_string(bc) + " blocks of " + shape_str({m.rows, m.cols}) +
                              " (rows must be whole blocks of columns)");
          m.block_rows = br, m.groups = blocks_across, m.group = bc, m.scale = &s;
        } else {
          const TensorView* s = find_(prefix + ".weight_scale");
          if (!s || num_elements(s->shape) != 1)
            throw FormatError(where_ + ": " + t.name + " is FP8 but has neither weight_scale_inv blocks nor one weight_scale");
          m.scale = &need(s->name, DType::F16, s->shape.size());
          m.per_tensor = true;
          set_groups(m, 1);
        }
        add_module(std::move(m));
      }
    }
  }

  void read_g_idx(Module& m, const TensorView& gi) {
    if (gi.dtype != DType::I32 || gi.shape != Shape{m.cols})
      throw FormatError(where_ + ": tensor " + gi.name + " holds " + std::string(dtype_name(gi.dtype)) + " " +
                        shape_str(gi.shape) + ", expected int32 [" + std::to_string(m.cols) + "]");
    for (int64_t i = 0; i < m.cols; ++i) {
      int32_t g;
      std::memcpy(&g, gi.data + 4 * i, 4);
      if (g < 0 || g >= m.groups)
        throw FormatError(where_ + ": tensor " + gi.name + " sends column " + std::to_string(i) + " to group " +
                          std::to_string(g) + ", outside [0, " + std::to_string(m.groups) + ")");
      if (g != i / m.group) m.act_order = true;
    }
    m.g_idx = &gi;
  }

  void add_module(Module m) {
    if (m.rows * m.cols <= 0) throw FormatError(where_ + ": " + m.prefix + " is empty");
    if (m.scale->dtype != DType::F16) {  // our scales are float16: what that rounding changes, reported
      std::vector<float> s(size_t(num_elements(m.scale->shape)));
      convert_to_f32(m.scale->dtype, m.scale->data, s.size(), s.data());
      for (float v : s)
        if (v != 0 && std::isfinite(v))
          m.scale_rounding = std::max(m.scale_rounding, double(std::fabs(f16_to_f32(f32_to_f16(v)) - v) / std::fabs(v)));
    }
    for (const TensorView* v : {m.data, m.scale, m.zero, m.g_idx})
      if (v) m.stored_bytes += v->nbytes;
    std::string name = m.prefix + ".weight";
    if (!modules_.emplace(name, std::move(m)).second) throw FormatError(where_ + ": " + name + " is stored twice");
  }

  void build_infos() {
    for (const auto& t : base_->tensors()) {
      const auto [module, suffix] = split_component(t.name);
      const std::string module_weight = module + ".weight";
      auto it = modules_.find(module_weight);
      if (it != modules_.end() && (t.name == module_weight || kComponentSuffixes.count(suffix))) {
        Module& m = it->second;
        if (t.name != m.data->name) continue;  // listed once, where its codes are
        SourceTensorInfo info{module_weight, m.scale->dtype, {m.rows, m.cols}, nullptr};
        if (!m.act_order) info.format = our_format(m);
        info.stored_type = describe(m);
        info.stored_bytes = m.stored_bytes;
        infos_.push_back(info);
        continue;
      }
      if (kComponentSuffixes.count(suffix))
        throw FormatError(where_ + ": tensor " + t.name + " belongs to no quantised module (its codes are missing)");
      infos_.push_back(t);
    }
  }

  // The format of our table that holds a module exactly.
  static const QuantFormat* our_format(const Module& m) {
    return m.layout == Layout::CtFloat8 ? find_codebook_format(Codebook::Fp8E4m3, 8) : find_quant_format(m.bits, m.symmetric);
  }

  std::string describe(const Module& m) const {
    const char* const kLayouts[] = {"compressed-tensors pack-quantized", "compressed-tensors int-quantized", "GPTQ",
                                     "AWQ GEMM", method_ == "w4a8_awq" ? "AngelSlim w4a8_awq" : "compressed-tensors float-quantized",
                                     "AngelSlim w4a8_awq"};
    std::string s = std::string(kLayouts[int(m.layout)]) + (m.layout == Layout::Gptq && m.gptq_v1 ? " v1" : "") +
                    (m.layout == Layout::CtFloat8 ? " fp8 e4m3" : " int" + std::to_string(m.bits)) +
                    (m.per_tensor        ? " per tensor"
                     : m.block_rows      ? " blocks " + std::to_string(m.block_rows) + "x" + std::to_string(m.group)
                     : m.groups == 1     ? " per channel"
                                         : " g" + std::to_string(m.group));
    if (m.act_order) s += " act-order (dequantised)";
    if (m.scale_rounding > 0) {
      char buf[80];
      snprintf(buf, sizeof buf, " (scales rounded to float16: up to %.1e relative)", m.scale_rounding);
      s += buf;
    }
    return s;
  }

  // The zero point of (row, group) in our code range, as the checkpoint stores it.
  int zero_at(const Module& m, int64_t r, int64_t g) const {
    const TensorView& z = *m.zero;
    const int mask = (1 << m.bits) - 1, G = int(m.groups);
    int v = 0;
    switch (m.layout) {
      case Layout::CtPacked:
      case Layout::CtInt8: {
        const int64_t zr = m.per_tensor ? 0 : r;
        if (z.dtype == DType::I32) {  // packed down the rows: each group a column of words
          const int64_t bit = zr * m.bits, w = bit / 32;
          uint64_t word = word_at(z, w * G + g);
          if ((bit % 32) + m.bits > 32) word |= uint64_t(word_at(z, (w + 1) * G + g)) << 32;
          v = int(word >> (bit % 32)) & mask;
        } else {  // signed int8: zp − 2^(bits−1)
          v = int(int8_t(z.data[size_t(zr * G + g)])) + (1 << (m.bits - 1));
        }
        break;
      }
      case Layout::Gptq:
        v = int(field_at(z, g * z.shape[1], r * m.bits, m.bits));
        if (m.gptq_v1) v = (v + 1) & mask;  // v1 stores zero − 1
        break;
      case Layout::Awq: {
        static const int kNibbleOf[8] = {0, 4, 1, 5, 2, 6, 3, 7};  // column r % 8 sits in nibble kNibbleOf[r % 8]
        v = int(word_at(z, g * z.shape[1] + r / 8) >> (4 * kNibbleOf[r % 8])) & 15;
        break;
      }
    }
    if (v < 0 || v > mask)
      throw FormatError(where_ + ": tensor " + z.name + " holds zero point " + std::to_string(v) + ", outside the " +
                        std::to_string(m.bits) + "-bit code range");
    return v;
  }

  const Prepared& prepared(const Module& m) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = prepared_[m.prefix];
    if (!slot) slot = prepare(m);
    return *slot;
  }

  std::unique_ptr<Prepared> prepare(const Module& m) const {
    auto p = std::make_unique<Prepared>();
    const size_t row_bytes = packed_row_bytes(m.cols, m.bits);
    const int64_t G = m.groups;
    // Scales [rows, groups] float16: CT stores them so (or one per tensor); GPTQ/AWQ as [groups, rows].
    std::vector<float> s(size_t(num_elements(m.scale->shape)));
    convert_to_f32(m.scale->dtype, m.scale->data, s.size(), s.data());
    std::vector<float> scales(size_t(m.rows * G));
    for (int64_t r = 0; r < m.rows; ++r)
      for (int64_t g = 0; g < G; ++g) {
        const bool transposed = m.layout == Layout::Gptq || m.layout == Layout::Awq;
        scales[size_t(r * G + g)] = s.size() == 1     ? s[0]
                                    : transposed    ? s[size_t(g * m.rows + r)]
                                    : m.block_rows ? s[size_t((r / m.block_rows) * G + g)]
                                                   : s[size_t(r * G + g)];
      }
    for (float v : scales)
      if (!std::isfinite(v)) throw FormatError(where_ + ": tensor " + m.scale->name + " holds a non-finite scale");
    p->scales.resize(scales.size() * 2);
    convert_from_f32(DType::F16, scales.data(), scales.size(), p->scales.data());

    // Zero points [rows, groups] in the code range; none when symmetric.
    if (!m.symmetric || m.act_order) {
      p->zeros.assign(size_t(m.rows * G), uint8_t(1 << (m.bits - 1)));
      if (m.zero)
        for (int64_t r = 0; r < m.rows; ++r)
          for (int64_t g = 0; g < G; ++g) p->zeros[size_t(r * G + g)] = uint8_t(zero_at(m, r, g));
    }

    // Codes, one lsb_rows_v1 row per output channel.
    const TensorView& d = *m.data;
    switch (m.layout) {
      case Layout::CtPacked: {
        const size_t word_bytes = size_t((m.cols * m.bits + 31) / 32) * 4;
        if (word_bytes == row_bytes) break;  // whole words per row: a view of the checkpoint
        p->codes.resize(size_t(m.rows) * row_bytes);
        for (int64_t r = 0; r < m.rows; ++r) std::memcpy(&p->codes[size_t(r) * row_bytes], d.data + size_t(r) * word_bytes, row_bytes);
        break;
      }
      case Layout::CtFloat8:  // FP8 bytes are our float8 codes: a view of the checkpoint
        break;
      case Layout::CtInt8:
        p->codes.resize(size_t(m.rows * m.cols));
        for (size_t i = 0; i < p->codes.size(); ++i) p->codes[i] = uint8_t(d.data[i] ^ 0x80);  // q + 128
        break;
      case Layout::Int4Pairs:  // column 2j in the low nibble, as our rows: only q → q + 8 in each nibble
        p->codes.resize(size_t(m.rows) * row_bytes);
        for (size_t i = 0; i < p->codes.size(); ++i) p->codes[i] = uint8_t(d.data[i] ^ 0x88);
        break;
      case Layout::Gptq: {
        const int64_t words = d.shape[0];  // per row of ours
        p->codes.resize(size_t(m.rows) * row_bytes);
        for (int64_t r = 0; r < m.rows; ++r)
          for (int64_t w = 0; w < words; ++w) {
            const uint32_t word = word_at(d, w * m.rows + r);
            std::memcpy(&p->codes[size_t(r) * row_bytes + size_t(4 * w)], &word, 4);
          }
        break;
      }
      case Layout::Awq: {
        static const int kOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};
        std::vector<uint8_t> codes(size_t(m.rows * m.cols));
        const int64_t words = m.rows / 8;
        for (int64_t c = 0; c < m.cols; ++c)
          for (int64_t w = 0; w < words; ++w) {
            const uint32_t word = word_at(d, c * words + w);
            for (int k = 0; k < 8; ++k) codes[size_t((w * 8 + kOrder[k]) * m.cols + c)] = uint8_t((word >> (4 * k)) & 15);
          }
        p->codes.resize(size_t(m.rows) * row_bytes);
        for (int64_t r = 0; r < m.rows; ++r) pack_row(&codes[size_t(r * m.cols)], m.cols, 4, &p->codes[size_t(r) * row_bytes]);
        break;
      }
    }

    const QuantFormat* f = our_format(m);
    if (m.act_order) {
      p->column_group.resize(size_t(m.cols));
      std::memcpy(p->column_group.data(), m.g_idx->data, size_t(m.cols) * 4);
      return p;
    }
    p->view.format = f;
    p->view.geom = {m.rows, m.cols, m.group};
    p->view.codes = p->codes.empty() ? d.data : p->codes.data();
    p->view.scales = p->scales.data();
    p->view.zero_points = f->symmetric ? nullptr : p->zeros.data();
    return p;
  }

  std::unique_ptr<TensorSource> base_;
  FindTensorView find_;
  std::string where_, method_, activations_;
  nlohmann::json config_;
  std::map<std::string, Module> modules_;  // by "<module>.weight"
  std::vector<SourceTensorInfo> infos_;
  mutable std::mutex mu_;
  mutable std::map<std::string, std::unique_ptr<Prepared>> prepared_;
};

}  // namespace

std::unique_ptr<TensorSource> open_quantized_checkpoint(std::unique_ptr<TensorSource> base, FindTensorView find,
                                                        const std::string& where) {
  const nlohmann::json cfg = base->model_config();
  if (!cfg.is_object() || !cfg.contains("quantization_config") || cfg["quantization_config"].is_null()) return base;
  return std::make_unique<QuantizedCheckpointSource>(std::move(base), std::move(find), where);
}

}  // namespace arrowquant
