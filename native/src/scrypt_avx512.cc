// The AVX-512VL scrypt kernel (scrypt.h): the same 128-bit Salsa20/8 as scrypt_sse2.cc, with the
// rotate-and-XOR of each step and the three-way XOR of BlockMix's second loop as one vpternlogd each. Compiled for
// AVX-512F/VL by the target pragma below and called only after scrypt::Best() found both on this CPU (and the OS saving
// their state).
#include <cstddef>
#include <cstdint>

#include "scrypt_simd.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#include <immintrin.h>

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl")
#endif

namespace ds::scrypt::detail {
namespace {

struct Avx512Vl {
  using T = __m128i;
  static T Add(T a, T b) { return _mm_add_epi32(a, b); }
  static T Xor(T a, T b) { return _mm_xor_si128(a, b); }
  static T Xor3(T a, T b, T c) { return _mm_ternarylogic_epi32(a, b, c, 0x96); }  // a ^ b ^ c
  // x ^ (v <<< s) as x ^ (v << s) ^ (v >> (32 - s)) in one vpternlogd (the two shifts have no bit in
  // common, so OR and XOR agree): three instructions deep with the add, where vprold + vpxor is four
  // on AMD Zen 4, whose vprold takes two cycles (measured: 102 against 130 cycles per Salsa20/8).
  template <int s>
  static T XorRotl(T x, T v) {
    return _mm_ternarylogic_epi32(x, _mm_slli_epi32(v, s), _mm_srli_epi32(v, 32 - s), 0x96);
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

void RoMixAvx512(uint32_t* x, uint32_t* v, uint32_t* y, size_t N, size_t r) { RoMixKernel<Avx512Vl>(x, v, y, N, r); }

}  // namespace ds::scrypt::detail

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

namespace ds::scrypt::detail {
const bool kAvx512Compiled = true;
}

#else  // no x86 or no GCC-compatible compiler: SSE2 or the scalar path

namespace ds::scrypt::detail {
const bool kAvx512Compiled = false;
void RoMixAvx512(uint32_t*, uint32_t*, uint32_t*, size_t, size_t) {}
}  // namespace ds::scrypt::detail

#endif
