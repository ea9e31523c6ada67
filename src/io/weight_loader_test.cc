#include <arrow/api.h>
#include <arrow/io/file.h>
#include <parquet/arrow/writer.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>

#include "arrowquant/error.h"
#include "io/parquet_v2_writer.h"

#include "arrowquant/weight_loader.h"
#include "test_util.h"
#include "quant/rtn.h"

using namespace arrowquant;

namespace {
struct Written {
  FloatTensor w;
  QuantizedTensor q;
  std::vector<float> expected;  // dequantised values
  std::vector<float> bias;
};

Written write_model(const std::string& path, int64_t chunk_bytes, const QuantFormat& f, InputRotation rotation = {}) {
  Written m;
  m.w = {"layer.weight", {48, 96}, aqtest::random_floats(48 * 96, 42, 0.1f)};
  m.q = quantize_rtn(m.w, {&f, 32, ClipMethod::Mse, 1, rotation});
  m.expected = dequantize(m.q);  // in the model's own space
  m.bias = aqtest::random_floats(48, 1);
  ParquetV2Writer w(path, chunk_bytes);
  w.write_quantized(m.q, DType::F32, {true, 0.1, 0.99});
  w.write_raw("layer.bias", DType::F32, {48}, reinterpret_cast<const uint8_t*>(m.bias.data()));
  w.close({});
  return m;
}
}  // namespace

namespace {
// A Parquet table with the given columns, written by Arrow with default settings.
void write_table(const std::string& path, const std::shared_ptr<arrow::Table>& t) {
  auto out = arrow::io::FileOutputStream::Open(path).ValueOrDie();
  ASSERT_TRUE(parquet::arrow::WriteTable(*t, arrow::default_memory_pool(), out, 1024).ok());
  ASSERT_TRUE(out->Close().ok());
}
std::shared_ptr<arrow::Array> strings(std::vector<std::string> v) {
  arrow::StringBuilder b;
  for (auto& s : v) (void)b.Append(s);
  return b.Finish().ValueOrDie();
}
std::shared_ptr<arrow::Array> shapes(std::vector<std::vector<int32_t>> v) {
  auto vb = std::make_shared<arrow::Int32Builder>();
  arrow::ListBuilder b(arrow::default_memory_pool(), vb);
  for (auto& s : v) { (void)b.Append(); for (int32_t d : s) (void)vb->Append(d); }
  return b.Finish().ValueOrDie();
}
// The FormatError message that opening `path` must produce ("" and a test failure if none).
std::string open_error(const std::string& path) {
  try {
    WeightLoader::open(path);
  } catch (const FormatError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no FormatError opening " << path;
  return "";
}
std::shared_ptr<arrow::Array> blobs(std::vector<std::string> v) {
  arrow::BinaryBuilder b;
  for (auto& s : v) (void)b.Append(s);
  return b.Finish().ValueOrDie();
}
}  // namespace

TEST(WeightLoader, V2RoundTripIsZeroCopyAndExact) {
  aqtest::TempDir dir;
  for (const auto& f : quant_formats()) {
    auto m = write_model(dir / "m.parquet", 1 << 20, f);
    auto w = WeightLoader::open(dir / "m.parquet");
    EXPECT_EQ(w->format_version(), 2);
    EXPECT_EQ(w->metadata()["format_version"], "2");
    const StoredTensor& t = w->tensor("layer.weight");
    EXPECT_EQ(t.format, &f);
    ASSERT_EQ(t.chunks.size(), 1u);
    // The packed bytes are a pointer into the memory map, identical to what was written.
    EXPECT_TRUE(w->maps(t.chunks[0].data, t.chunks[0].nbytes));
    ASSERT_EQ(t.chunks[0].nbytes, m.q.codes.size());
    EXPECT_EQ(std::memcmp(t.chunks[0].data, m.q.codes.data(), m.q.codes.size()), 0);
    EXPECT_EQ(w->dequantize("layer.weight").values, m.expected) << f.name;
    EXPECT_NEAR(t.cosine, 0.99, 1e-12);
    auto b = w->dequantize("layer.bias");
    EXPECT_EQ(b.values, m.bias);
    EXPECT_TRUE(w->maps(w->tensor("layer.bias").chunks[0].data, 48 * 4));
  }
}

TEST(WeightLoader, LargeTensorsAreChunkedByRows) {
  aqtest::TempDir dir;
  const auto& f = *find_quant_format(3, false);
  auto m = write_model(dir / "m.parquet", 7 * 36, f);  // 3-bit rows of 96 = 36 bytes: 7 rows a chunk
  auto w = WeightLoader::open(dir / "m.parquet");
  const StoredTensor& t = w->tensor("layer.weight");
  EXPECT_EQ(t.chunks.size(), 7u);  // ceil(48 / 7)
  EXPECT_EQ(t.chunks[1].row_start, 7);
  EXPECT_EQ(w->dequantize("layer.weight").values, m.expected);
  EXPECT_EQ(w->dequantize("layer.bias").values, m.bias);
}

TEST(WeightLoader, ChecksumMismatchIsDetected) {
  aqtest::TempDir dir;
  write_model(dir / "m.parquet", 1 << 20, *find_quant_format(4, false));
  size_t offset;
  {
    auto w = WeightLoader::open(dir / "m.parquet");
    offset = w->offset_in_file(w->tensor("layer.weight").chunks[0].data) + 100;
  }
  {
    std::fstream f(dir / "m.parquet", std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(std::streamoff(offset));
    char c;
    f.read(&c, 1);
    c ^= 0x5a;
    f.seekp(std::streamoff(offset));
    f.write(&c, 1);
  }
  auto w = WeightLoader::open(dir / "m.parquet");  // opening is lazy and still works
  try {
    w->dequantize("layer.weight");
    FAIL() << "corruption not detected";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("checksum mismatch"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("layer.weight"), std::string::npos);
  }
  EXPECT_NO_THROW(w->dequantize("layer.bias"));
}

TEST(WeightLoader, TruncatedParquet) {
  aqtest::TempDir dir;
  write_model(dir / "m.parquet", 1 << 20, *find_quant_format(4, false));
  std::filesystem::resize_file(dir / "m.parquet", 2000);
  EXPECT_THROW(WeightLoader::open(dir / "m.parquet"), FormatError);
  std::ofstream(dir / "x.parquet") << "PAR1";
  EXPECT_THROW(WeightLoader::open(dir / "x.parquet"), FormatError);
}

// Damaged footers (random bytes overwritten where Parquet keeps its metadata) are clear errors, never
// a crash or another exception. (The fuzzer's finding, a Parquet exception escaping from the lazily
// decoded row-group metadata, is kept in tests/fuzz/regressions/ and runs with every fuzz smoke.)
TEST(WeightLoader, DamagedFootersAreFormatErrors) {
  aqtest::TempDir dir;
  write_model(dir / "m.parquet", 1 << 20, *find_quant_format(4, false));
  const std::string good = aqtest::slurp(dir / "m.parquet");
  std::mt19937 rng(7);
  int refused = 0;
  for (int i = 0; i < 300; ++i) {
    std::string bad = good;
    const size_t footer = std::min<size_t>(bad.size() - 8, 4096);
    const int flips = 1 + int(rng() % 8);
    for (int k = 0; k < flips; ++k) bad[bad.size() - 8 - std::uniform_int_distribution<size_t>(0, footer - 1)(rng)] = char(rng());
    std::ofstream(dir / "bad.parquet", std::ios::binary | std::ios::trunc) << bad;
    try {
      auto w = WeightLoader::open(dir / "bad.parquet");
      for (const auto& t : w->tensors()) w->dequantize(t.name);
    } catch (const FormatError&) {
      ++refused;
    } catch (const ValueError&) {
      ++refused;
    }
  }
  EXPECT_GT(refused, 100);
}

// A 2.7 kB table whose footer claims billions of rows (found by the fuzzer) is refused before the
// Parquet reader allocates gigabytes for them.
TEST(WeightLoader, FooterClaimingMoreRowsThanBytesIsRefused) {
  const std::string path = aqtest::source_dir() + "/tests/fuzz/regressions/weight_loader_fuzz/huge_row_count.parquet";
  try {
    WeightLoader::open(path);
    FAIL() << "opened";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("claims"), std::string::npos) << e.what();
  }
}

TEST(WeightLoader, V1TablesLoadUnchanged) {
  aqtest::TempDir dir;
  std::vector<uint16_t> h = {f32_to_f16(1.5f), f32_to_f16(-0.25f), f32_to_f16(3.0f), f32_to_f16(0.0f)};
  std::vector<float> f = {0.5f, 2.0f};
  auto schema = arrow::schema({arrow::field("layer_name", arrow::utf8()), arrow::field("shape", arrow::list(arrow::int32())),
                               arrow::field("dtype", arrow::utf8()), arrow::field("data", arrow::binary()),
                               arrow::field("num_params", arrow::int64())});
  arrow::Int64Builder np;
  (void)np.AppendValues(std::vector<int64_t>{4, 2});
  auto t = arrow::Table::Make(schema, {strings({"a.weight", "a.bias"}), shapes({{2, 2}, {2}}),
                                       strings({"torch.float16", "torch.float32"}),
                                       blobs({std::string(reinterpret_cast<char*>(h.data()), 8),
                                              std::string(reinterpret_cast<char*>(f.data()), 8)}),
                                       np.Finish().ValueOrDie()});
  write_table(dir / "v1.parquet", t);
  auto w = WeightLoader::open(dir / "v1.parquet");
  EXPECT_EQ(w->format_version(), 1);
  EXPECT_EQ(w->dequantize("a.weight").values, (std::vector<float>{1.5f, -0.25f, 3.0f, 0.0f}));
  EXPECT_EQ(w->dequantize("a.bias").values, f);
  EXPECT_EQ(w->tensor("a.weight").format, nullptr);
}

TEST(WeightLoader, MissingOrMistypedColumn) {
  aqtest::TempDir dir;
  auto no_data = arrow::Table::Make(
      arrow::schema({arrow::field("layer_name", arrow::utf8()), arrow::field("shape", arrow::list(arrow::int32())),
                     arrow::field("dtype", arrow::utf8())}),
      {strings({"a"}), shapes({{1}}), strings({"float32"})});
  write_table(dir / "nodata.parquet", no_data);
  EXPECT_NE(open_error(dir / "nodata.parquet").find("\"data\""), std::string::npos);
  arrow::Int64Builder bad;
  (void)bad.Append(7);
  auto mistyped = arrow::Table::Make(
      arrow::schema({arrow::field("layer_name", arrow::utf8()), arrow::field("shape", arrow::int64()),
                     arrow::field("dtype", arrow::utf8()), arrow::field("data", arrow::binary())}),
      {strings({"a"}), bad.Finish().ValueOrDie(), strings({"float32"}), blobs({"abcd"})});
  write_table(dir / "mistyped.parquet", mistyped);
  EXPECT_NE(open_error(dir / "mistyped.parquet").find("\"shape\""), std::string::npos);
  auto wrong_size = arrow::Table::Make(
      arrow::schema({arrow::field("layer_name", arrow::utf8()), arrow::field("shape", arrow::list(arrow::int32())),
                     arrow::field("dtype", arrow::utf8()), arrow::field("data", arrow::binary())}),
      {strings({"a.weight"}), shapes({{3}}), strings({"float32"}), blobs({"abcd"})});
  write_table(dir / "size.parquet", wrong_size);
  EXPECT_NE(open_error(dir / "size.parquet").find("a.weight"), std::string::npos);
}

// A tensor quantised in a rotated input space: the file says so (kind, block, seed), the packed
// view is in the rotated space, and dequantising undoes the rotation with nothing beside the file.
TEST(WeightLoader, RotatedTensorsReadBackInTheModelsOwnSpace) {
  aqtest::TempDir dir;
  const InputRotation rot = hadamard_rotation(96, 3);
  ASSERT_EQ(rot.block, 96);
  for (int64_t chunk : {int64_t(1) << 20, int64_t(7 * 48)}) {  // one chunk, and chunks of 7 rows
    auto m = write_model(dir / "r.parquet", chunk, *find_quant_format(4, false), rot);
    auto w = WeightLoader::open(dir / "r.parquet");
    const StoredTensor& t = w->tensor("layer.weight");
    EXPECT_EQ(t.rotation, rot);
    EXPECT_TRUE(w->tensor("layer.bias").rotation.is_none());
    // Version 3 marks a file with rotated tensors: a build from before rotations refuses it rather
    // than run the rotated codes unrotated. Files without any stay version 2.
    EXPECT_EQ(w->metadata()["format_version"], "3");
    EXPECT_EQ(w->dequantize("layer.weight").values, m.expected);
    // Close to the original weights (the rotation is undone, not left in).
    double num = 0, den = 0;
    for (size_t i = 0; i < m.expected.size(); ++i)
      num += double(m.expected[i] - m.w.values[i]) * (m.expected[i] - m.w.values[i]), den += double(m.w.values[i]) * m.w.values[i];
    EXPECT_LT(std::sqrt(num / den), 0.15);
    // The views hold the rotated codes as written.
    EXPECT_EQ(std::memcmp(t.chunks[0].data, m.q.codes.data(), t.chunks[0].nbytes), 0);
  }
  // A block that is no Hadamard order, or does not divide the row: refused, naming the tensor.
  for (InputRotation bad : {InputRotation{RotationKind::Hadamard, 20, 0}, InputRotation{RotationKind::Hadamard, 64, 0}}) {
    Written m;
    m.w = {"layer.weight", {4, 96}, aqtest::random_floats(4 * 96, 1, 0.1f)};
    m.q = quantize_rtn(m.w, {find_quant_format(4, false), 32, ClipMethod::Mse, 1});
    m.q.rotation = bad;
    {
      ParquetV2Writer wr(dir / "bad.parquet", 1 << 20);
      wr.write_quantized(m.q, DType::F32, {});
      wr.close({});
    }
    const std::string e = open_error(dir / "bad.parquet");
    EXPECT_NE(e.find("rotation block"), std::string::npos) << e;
    EXPECT_NE(e.find("layer.weight"), std::string::npos) << e;
  }
  // Files written before rotations existed have no rotation columns: read as unrotated.
  auto old = WeightLoader::open(aqtest::source_dir() + "/tests/fuzz/corpus/weight_loader_fuzz/int4.parquet");
  for (const auto& t : old->tensors()) EXPECT_TRUE(t.rotation.is_none()) << t.name;
}

namespace {

// A file of one 4-bit tensor with `meta` as its file-level keys; returns its format version.
int write_one_tensor(const std::string& path, const FileMetadata& meta) {
  FloatTensor w = {"layer.weight", {4, 96}, aqtest::random_floats(4 * 96, 1, 0.1f)};
  ParquetV2Writer wr(path, 1 << 20);
  wr.write_quantized(quantize_rtn(w, {find_quant_format(4, false), 32, ClipMethod::Mse, 1}), DType::F32, {});
  wr.close(meta);
  return wr.format_version();
}

}  // namespace

// A residual stream's rotation is a file-level key (version 4), read back as written; a key that is
// no rotation is refused naming the key.
TEST(WeightLoader, ResidualRotationKey) {
  aqtest::TempDir dir;
  auto write = [&](const std::string& name, const InputRotation& r) {
    FileMetadata meta;
    meta.residual_rotation = r;
    return write_one_tensor(dir / name, meta);
  };
  const InputRotation r = hadamard_rotation(96, 5);
  EXPECT_EQ(write("r.parquet", r), 4);
  auto w = WeightLoader::open(dir / "r.parquet");
  EXPECT_EQ(w->residual_rotation(), r);
  EXPECT_EQ(w->metadata()["format_version"], "4");
  EXPECT_TRUE(WeightLoader::open(aqtest::source_dir() + "/tests/fuzz/corpus/weight_loader_fuzz/int4.parquet")
                  ->residual_rotation()
                  .is_none());
  write("bad.parquet", InputRotation{RotationKind::Hadamard, 1, 0});
  const std::string e = open_error(dir / "bad.parquet");
  EXPECT_NE(e.find("residual_rotation"), std::string::npos) << e;
}

// A diffusion model's static activation clips per timestep group are a file-level key, read back
// as written; a key that does not validate is refused at open, naming the key and the field.
TEST(WeightLoader, TimeGroupsKey) {
  aqtest::TempDir dir;
  auto write = [&](const std::string& name, const TimeGroupClips& t) {
    FileMetadata meta;
    meta.time_groups = t;
    write_one_tensor(dir / name, meta);
  };
  TimeGroupClips t;
  t.train_timesteps = 1000;
  t.groups = 3;
  t.clips = {{"layer", {2.5f, 1.25f, 0.5f}}, {"other", {1, 2, 3}}};
  write("t.parquet", t);
  auto w = WeightLoader::open(dir / "t.parquet");
  EXPECT_EQ(w->time_groups().train_timesteps, 1000);
  EXPECT_EQ(w->time_groups().groups, 3);
  EXPECT_EQ(w->time_groups().clips, t.clips);
  EXPECT_TRUE(WeightLoader::open(aqtest::source_dir() + "/tests/fuzz/corpus/weight_loader_fuzz/int4.parquet")
                  ->time_groups()
                  .empty());
  t.clips["layer"] = {2.5f, 1.25f};  // one clip short
  write("bad.parquet", t);
  const std::string e = open_error(dir / "bad.parquet");
  EXPECT_NE(e.find("time_groups"), std::string::npos) << e;
  EXPECT_NE(e.find("clips of layer"), std::string::npos) << e;
}
