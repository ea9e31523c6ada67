#include <cstring>
#include <fstream>

#include "arrowquant/error.h"
#include "io/safetensors_reader.h"
#include "io/safetensors_writer.h"
#include "test_util.h"

using namespace arrowquant;

namespace {
// Writes a safetensors file from a raw header string and a data section.
void write_raw(const std::string& path, const std::string& header, size_t data_bytes, size_t declared_len = 0) {
  std::ofstream out(path, std::ios::binary);
  uint64_t n = declared_len ? declared_len : header.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << header;
  std::string data(data_bytes, '\0');
  out << data;
}

std::string expect_format_error(const std::string& path) {
  try {
    SafetensorsFile f(path);
  } catch (const FormatError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no FormatError for " << path;
  return "";
}
}  // namespace

TEST(Safetensors, WriteThenReadRoundTrip) {
  aqtest::TempDir dir;
  std::vector<float> a = {1, 2, 3, 4, 5, 6};
  std::vector<uint16_t> b = {f32_to_f16(0.5f), f32_to_f16(-2.0f)};
  write_safetensors(dir / "m.safetensors",
                    {{"a", DType::F32, {2, 3}, a.data()}, {"b", DType::F16, {2}, b.data()}}, {{"format", "pt"}});
  SafetensorsFile f(dir / "m.safetensors");
  ASSERT_EQ(f.tensors().size(), 2u);
  const TensorView* ta = f.find("a");
  ASSERT_NE(ta, nullptr);
  EXPECT_EQ(ta->shape, (Shape{2, 3}));
  EXPECT_EQ(std::memcmp(ta->data, a.data(), 24), 0);
  EXPECT_EQ(f.find("b")->dtype, DType::F16);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_TRUE(f.mapping().contains(ta->data, ta->nbytes));
  // Only the final file is there: the temporary was renamed.
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"m.safetensors"});
}

TEST(Safetensors, TruncatedFile) {
  aqtest::TempDir dir;
  write_raw(dir / "t.safetensors", R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8);
  EXPECT_NE(expect_format_error(dir / "t.safetensors").find("out of range"), std::string::npos);
  std::ofstream(dir / "tiny.safetensors") << "abc";
  EXPECT_NE(expect_format_error(dir / "tiny.safetensors").find("shorter than"), std::string::npos);
  write_raw(dir / "h.safetensors", R"({"w":1})", 0, 5000);
  EXPECT_NE(expect_format_error(dir / "h.safetensors").find("runs past the end"), std::string::npos);
}

TEST(Safetensors, OffsetsOutOfRangeOrOverlapping) {
  aqtest::TempDir dir;
  write_raw(dir / "o.safetensors", R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", 12);
  EXPECT_NE(expect_format_error(dir / "o.safetensors").find("\"w\""), std::string::npos);
  write_raw(dir / "ov.safetensors",
            R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
            16);
  EXPECT_NE(expect_format_error(dir / "ov.safetensors").find("overlap"), std::string::npos);
  write_raw(dir / "neg.safetensors", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 16);
  EXPECT_NE(expect_format_error(dir / "neg.safetensors").find("begin > end"), std::string::npos);
}

TEST(Safetensors, UnknownDtypeAndSizeMismatch) {
  aqtest::TempDir dir;
  write_raw(dir / "d.safetensors", R"({"w":{"dtype":"F12","shape":[2],"data_offsets":[0,8]}})", 8);
  std::string e = expect_format_error(dir / "d.safetensors");
  EXPECT_NE(e.find("unknown dtype"), std::string::npos);
  EXPECT_NE(e.find("\"w\""), std::string::npos);
  write_raw(dir / "s.safetensors", R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8);
  EXPECT_NE(expect_format_error(dir / "s.safetensors").find("needs 12"), std::string::npos);
  write_raw(dir / "j.safetensors", R"({"w":{"dtype":"F32",)", 8);
  EXPECT_NE(expect_format_error(dir / "j.safetensors").find("not valid JSON"), std::string::npos);
}

TEST(Safetensors, MissingFileIsAnIoError) {
  EXPECT_THROW(SafetensorsFile("/nonexistent/model.safetensors"), IoError);
}

TEST(Safetensors, RealMiniLM) {
  SafetensorsFile f(aqtest::minilm_dir() + "/model.safetensors");
  EXPECT_EQ(f.tensors().size(), 104u);
  const TensorView* emb = f.find("embeddings.word_embeddings.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->shape, (Shape{30522, 384}));
  EXPECT_EQ(f.find("embeddings.position_ids")->dtype, DType::I64);
}
