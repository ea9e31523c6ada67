#include <fstream>

#include "arrowquant/error.h"
#include "io/llama2c_reader.h"
#include "arrowquant/tensor_source.h"
#include "test_util.h"

using namespace arrowquant;

TEST(TensorSource, UnknownFormat) {
  aqtest::TempDir dir;
  std::ofstream(dir / "weights.dat") << "this is not a model at all, just text";
  EXPECT_THROW(open_tensor_source(dir / "weights.dat"), FormatError);
  EXPECT_THROW(open_tensor_source(dir.path().string()), FormatError);
  EXPECT_THROW(open_tensor_source(dir / "missing"), IoError);
}
