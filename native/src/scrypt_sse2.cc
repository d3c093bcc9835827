// The SSE2 scrypt kernel (scrypt.h): Salsa20/8 on 128-bit registers, a rotate being two shifts and
// an OR, so a step of a round is four instructions deep (add, shift, or, xor). SSE2 is part of x86-64, so this file
// needs no target pragma; scrypt::Best() still picks it only where it was compiled (kSse2Compiled).
#include <cstddef>
#include <cstdint>

#include "scrypt_simd.h"

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>

namespace ds::scrypt::detail {
namespace {

struct Sse2 {
  using T = __m128i;
  static T Add(T a, T b) { return _mm_add_epi32(a, b); }
  static T Xor(T a, T b) { return _mm_xor_si128(a, b); }
  static T Xor3(T a, T b, T c) { return _mm_xor_si128(a, _mm_xor_si128(b, c)); }
  template <int s>
  static T XorRotl(T x, T v) {
    return _mm_xor_si128(x, _mm_or_si128(_mm_slli_epi32(v, s), _mm_srli_epi32(v, 32 - s)));
  }
  template <int imm>
  static T Shuffle(T x) {
    return _mm_shuffle_epi32(x, imm);
  }
  static T Load(const uint32_t* p) { return _mm_load_si128(reinterpret_cast<const __m128i*>(p)); }
  static void Store(uint32_t* p, T v) { _mm_store_si128(reinterpret_cast<__m128i*>(p), v); }
  static void Prefetch(const uint32_t* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }
};

#include "scrypt_kernel.inc"

}  // namespace

void RoMixSse2(uint32_t* x, uint32_t* v, uint32_t* y, size_t N, size_t r) { RoMixKernel<Sse2>(x, v, y, N, r); }

const bool kSse2Compiled = true;

}  // namespace ds::scrypt::detail

#else  // not x86-64: the scalar path only

namespace ds::scrypt::detail {
const bool kSse2Compiled = false;
void RoMixSse2(uint32_t*, uint32_t*, uint32_t*, size_t, size_t) {}
}  // namespace ds::scrypt::detail

#endif
