#include "util/checksum.h"

#include <xxhash.h>

namespace arrowquant {

uint64_t checksum_bytes(const void* a, size_t na, const void* b, size_t nb, const void* c, size_t nc) {
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  if (na) XXH3_64bits_update(st, a, na);
  if (nb) XXH3_64bits_update(st, b, nb);
  if (nc) XXH3_64bits_update(st, c, nc);
  uint64_t h = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return h;
}

}  // namespace arrowquant
