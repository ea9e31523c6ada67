// The checksum stored per Parquet row.
#pragma once
#include <cstddef>
#include <cstdint>

namespace arrowquant {

// XXH3-64 over the concatenation of the given byte ranges.
uint64_t checksum_bytes(const void* a, size_t na, const void* b = nullptr, size_t nb = 0,
                        const void* c = nullptr, size_t nc = 0);

}  // namespace arrowquant
