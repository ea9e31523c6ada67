// The safetensors reader: truncated files, offsets out of range or overlapping, unknown dtypes and
// size mismatches are clear errors naming file and tensor; the real MiniLM file maps in place.
#include "io/safetensors_reader.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "arrowquant/error.h"
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

TEST(SafetensorsReader, TruncatedFile) {
  aqtest::TempDir dir;
  write_raw(dir / "t.safetensors", R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8);
  EXPECT_NE(expect_format_error(dir / "t.safetensors").find("out of range"), std::string::npos);
  std::ofstream(dir / "tiny.safetensors") << "abc";
  EXPECT_NE(expect_format_error(dir / "tiny.safetensors").find("shorter than"), std::string::npos);
  write_raw(dir / "h.safetensors", R"({"w":1})", 0, 5000);
  EXPECT_NE(expect_format_error(dir / "h.safetensors").find("runs past the end"), std::string::npos);
}

TEST(SafetensorsReader, OffsetsOutOfRangeOrOverlapping) {
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

TEST(SafetensorsReader, UnknownDtypeAndSizeMismatch) {
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

TEST(SafetensorsReader, MissingFileIsAnIoError) {
  EXPECT_THROW(SafetensorsFile("/nonexistent/model.safetensors"), IoError);
}

TEST(SafetensorsReader, RealMiniLM) {
  SafetensorsFile f(aqtest::minilm_dir() + "/model.safetensors");
  EXPECT_EQ(f.tensors().size(), 104u);
  const TensorView* emb = f.find("embeddings.word_embeddings.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->shape, (Shape{30522, 384}));
  EXPECT_EQ(f.find("embeddings.position_ids")->dtype, DType::I64);
}
