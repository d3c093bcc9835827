// The 8-lane AVX2 BLAKE3 kernel (blake3_simd.h): eight chains in 256-bit registers, the rotates by 16
// and 8 as one byte shuffle each, those by 12 and 7 as two shifts and an OR. Compiled for AVX2 by the
// target pragma below, whatever the build's flags, and called only after blake3::Best() found AVX2
// on this CPU. Only intrinsics and this file's own internal functions appear under the pragma, so no
// AVX2 code can be merged into an inline function another translation unit uses.
#include <cstddef>
#include <cstdint>

#include "blake3_simd.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#include <immintrin.h>

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2")
#endif

namespace ds::blake3::detail {
namespace {

#include "simd_transpose8.inc"

struct Avx2 {
  using T = __m256i;
  static constexpr size_t kLanes = 8;
  static constexpr bool kInterleave = false;
  static T Set1(uint32_t k) { return _mm256_set1_epi32(static_cast<int>(k)); }
  static T Add(T a, T b) { return _mm256_add_epi32(a, b); }
  static T Xor(T a, T b) { return _mm256_xor_si256(a, b); }
  template <int n>
  static T Ror(T x) {
    if constexpr (n == 16)
      return _mm256_shuffle_epi8(x, _mm256_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13, 2, 3, 0, 1,
                                                     6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13));
    else if constexpr (n == 8)
      return _mm256_shuffle_epi8(x, _mm256_setr_epi8(1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12, 1, 2, 3, 0,
                                                     5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12));
    else
      return _mm256_or_si256(_mm256_srli_epi32(x, n), _mm256_slli_epi32(x, 32 - n));
  }
  static T LoadU(const uint32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void StoreU(uint32_t* p, T v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static void LoadMessage(const uint8_t* const* p, size_t offset, T* m) { LoadTransposed8(p, offset, m); }
};

#include "blake3_kernel.inc"

}  // namespace

void CompressAvx2x8(const uint8_t* const* ptr, size_t blocks, const uint32_t key[8], uint64_t counter,
                    uint32_t counterStep, uint32_t flags, uint32_t flagsStart, uint32_t flagsEnd, uint32_t* out) {
  Blake3Lanes<Avx2>(ptr, blocks, key, counter, counterStep, flags, flagsStart, flagsEnd, out);
}

}  // namespace ds::blake3::detail

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

namespace ds::blake3::detail {
const bool kAvx2Compiled = true;
}

#else  // no x86 or no GCC-compatible compiler: the scalar path only

namespace ds::blake3::detail {
const bool kAvx2Compiled = false;
void CompressAvx2x8(const uint8_t* const*, size_t, const uint32_t*, uint64_t, uint32_t, uint32_t, uint32_t, uint32_t,
                    uint32_t*) {}
}  // namespace ds::blake3::detail

#endif
