// Placeholder: the avx512 BLAKE3 kernel is not written yet; blake3::Best() never picks it.
#include <cstddef>
#include <cstdint>

#include "blake3_simd.h"

namespace ds::blake3::detail {
const bool kAvx512Compiled = false;
void CompressAvx512x8(const uint8_t* const*, size_t, const uint32_t*, uint64_t, uint32_t, uint32_t, uint32_t, uint32_t,
                      uint32_t*) {}
void CompressAvx512x16(const uint8_t* const*, size_t, const uint32_t*, uint64_t, uint32_t, uint32_t, uint32_t, uint32_t,
                       uint32_t*) {}
}  // namespace ds::blake3::detail
