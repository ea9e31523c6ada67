// What the safetensors writer writes reads back exactly, in place.
#include "io/safetensors_writer.h"

#include <gtest/gtest.h>

#include <cstring>

#include "io/safetensors_reader.h"
#include "test_util.h"

using namespace arrowquant;

TEST(SafetensorsWriter, WriteThenReadRoundTrip) {
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
