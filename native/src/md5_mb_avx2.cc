// The 8-lane AVX2 MD5 kernel (md5_mb.h). Compiled for AVX2 by the target pragma below, whatever the
// build's flags, and called only after md5::Active() found AVX2 on this CPU. Only intrinsics and this
// file's own internal functions appear under the pragma, so no AVX2 code can be merged into an inline
// function another translation unit uses.
#include <cstddef>
#include <cstdint>

#include "md5_mb_simd.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#include <immintrin.h>

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2")
#endif

namespace ds::md5::detail {
namespace {

#include "simd_transpose8.inc"

struct Avx2 {
  using T = __m256i;
  static constexpr size_t kLanes = 8;
  static T Add(T a, T b) { return _mm256_add_epi32(a, b); }
  static T Set1(uint32_t k) { return _mm256_set1_epi32(static_cast<int>(k)); }
  template <int s>
  static T Rotl(T x) {
    return _mm256_or_si256(_mm256_slli_epi32(x, s), _mm256_srli_epi32(x, 32 - s));
  }
  static T F(T b, T c, T d) { return _mm256_xor_si256(_mm256_and_si256(_mm256_xor_si256(c, d), b), d); }
  static T G(T b, T c, T d) { return _mm256_xor_si256(_mm256_and_si256(_mm256_xor_si256(b, c), d), c); }
  static T H(T b, T c, T d) { return _mm256_xor_si256(_mm256_xor_si256(b, c), d); }
  static T I(T b, T c, T d) {
    return _mm256_xor_si256(c, _mm256_or_si256(b, _mm256_xor_si256(d, _mm256_set1_epi32(-1))));
  }
  static T Load(const uint32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void Store(uint32_t* p, T v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static void LoadMessage(const uint8_t* const* p, T* m) { LoadTransposed8(p, 0, m); }
};

#include "md5_mb_kernel.inc"

}  // namespace

void CompressAvx2x8(uint32_t* state, const uint8_t* const* ptr, const size_t* step, size_t blocks) {
  Md5CompressLanes<Avx2>(state, ptr, step, blocks);
}

}  // namespace ds::md5::detail

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

namespace ds::md5::detail {
const bool kAvx2Compiled = true;
}

#else  // no x86 or no GCC-compatible compiler: the scalar path only

namespace ds::md5::detail {
const bool kAvx2Compiled = false;
void CompressAvx2x8(uint32_t*, const uint8_t* const*, const size_t*, size_t) {}
}  // namespace ds::md5::detail

#endif
