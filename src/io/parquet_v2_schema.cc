#include "io/parquet_v2_schema.h"

#include <arrow/api.h>

namespace arrowquant::parquet_v2 {

bool key_holds_json(std::string_view k) {
  return k == key::kModelConfig || k == key::kQuantConfig || k == key::kDecisions || k == key::kResidualRotation ||
         k == key::kTimeGroups;
}

std::shared_ptr<arrow::Schema> v2_schema() {
  using namespace arrow;
  return schema({
      field(col::kLayerName, utf8(), false),
      field(col::kShape, list(int32()), false),
      field(col::kDtype, utf8(), false),
      field(col::kData, binary(), false),  // required: no definition levels in front of the value
      field(col::kNumParams, int64(), false),
      field(col::kQuantType, utf8(), false),
      field(col::kGroupSize, int32(), false),
      field(col::kScales, binary(), false),
      field(col::kZeroPoints, binary(), false),
      field(col::kPacking, utf8(), false),
      field(col::kChunkIndex, int32(), false),
      field(col::kNumChunks, int32(), false),
      field(col::kRowStart, int64(), false),
      field(col::kChecksum, uint64(), false),
      field(col::kRelRmse, float64(), true),
      field(col::kCosine, float64(), true),
      field(col::kRotation, utf8(), false),
      field(col::kRotationBlock, int32(), false),
      field(col::kRotationSeed, uint64(), false),
  });
}

}  // namespace arrowquant::parquet_v2
