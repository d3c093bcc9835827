// The AVX-512 MD5 kernels (md5_mb.h): 16 lanes in 512-bit registers, and 8 lanes in 256-bit registers
// for smaller batches; both use the rotate (vprold) and three-input logic (vpternlogd) instructions, so
// a step is about half the instructions of the AVX2 one. Compiled for AVX-512F/VL by the target pragma
// below and called only after md5::Active() found both on this CPU (and the OS saving their state).
#include <cstddef>
#include <cstdint>

#include "md5_mb_simd.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#include <immintrin.h>

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,avx512f,avx512vl"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,avx512f,avx512vl")
// GCC 12's own avx512fintrin.h passes _mm512_undefined_epi32() as the unused merge source of unmasked
// unpacks and flags it as maybe uninitialised: a false positive inside the compiler's header.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace ds::md5::detail {
namespace {

#include "simd_transpose16.inc"
#include "simd_transpose8.inc"

// vpternlogd immediates: the truth table of f(b, c, d) evaluated at b = 0xF0, c = 0xCC, d = 0xAA.
constexpr int kTernF = 0xCA;  // (b & c) | (~b & d)
constexpr int kTernG = 0xE4;  // (b & d) | (c & ~d)
constexpr int kTernH = 0x96;  // b ^ c ^ d
constexpr int kTernI = 0x39;  // c ^ (b | ~d)

struct Avx512x16 {
  using T = __m512i;
  static constexpr size_t kLanes = 16;
  static T Add(T a, T b) { return _mm512_add_epi32(a, b); }
  static T Set1(uint32_t k) { return _mm512_set1_epi32(static_cast<int>(k)); }
  template <int s>
  static T Rotl(T x) {
    return _mm512_rol_epi32(x, s);
  }
  static T F(T b, T c, T d) { return _mm512_ternarylogic_epi32(b, c, d, kTernF); }
  static T G(T b, T c, T d) { return _mm512_ternarylogic_epi32(b, c, d, kTernG); }
  static T H(T b, T c, T d) { return _mm512_ternarylogic_epi32(b, c, d, kTernH); }
  static T I(T b, T c, T d) { return _mm512_ternarylogic_epi32(b, c, d, kTernI); }
  static T Load(const uint32_t* p) { return _mm512_loadu_si512(p); }
  static void Store(uint32_t* p, T v) { _mm512_storeu_si512(p, v); }
  static void LoadMessage(const uint8_t* const* p, T* m) { LoadTransposed16(p, 0, m); }
};

struct Avx512x8 {
  using T = __m256i;
  static constexpr size_t kLanes = 8;
  static T Add(T a, T b) { return _mm256_add_epi32(a, b); }
  static T Set1(uint32_t k) { return _mm256_set1_epi32(static_cast<int>(k)); }
  template <int s>
  static T Rotl(T x) {
    return _mm256_rol_epi32(x, s);
  }
  static T F(T b, T c, T d) { return _mm256_ternarylogic_epi32(b, c, d, kTernF); }
  static T G(T b, T c, T d) { return _mm256_ternarylogic_epi32(b, c, d, kTernG); }
  static T H(T b, T c, T d) { return _mm256_ternarylogic_epi32(b, c, d, kTernH); }
  static T I(T b, T c, T d) { return _mm256_ternarylogic_epi32(b, c, d, kTernI); }
  static T Load(const uint32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void Store(uint32_t* p, T v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static void LoadMessage(const uint8_t* const* p, T* m) { LoadTransposed8(p, 0, m); }
};

#include "md5_mb_kernel.inc"

}  // namespace

void CompressAvx512x16(uint32_t* state, const uint8_t* const* ptr, const size_t* step, size_t blocks) {
  Md5CompressLanes<Avx512x16>(state, ptr, step, blocks);
}

void CompressAvx512x8(uint32_t* state, const uint8_t* const* ptr, const size_t* step, size_t blocks) {
  Md5CompressLanes<Avx512x8>(state, ptr, step, blocks);
}

}  // namespace ds::md5::detail

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC diagnostic pop
#pragma GCC pop_options
#endif

namespace ds::md5::detail {
const bool kAvx512Compiled = true;
}

#else  // no x86 or no GCC-compatible compiler: the scalar path only

namespace ds::md5::detail {
const bool kAvx512Compiled = false;
void CompressAvx512x8(uint32_t*, const uint8_t* const*, const size_t*, size_t) {}
void CompressAvx512x16(uint32_t*, const uint8_t* const*, const size_t*, size_t) {}
}  // namespace ds::md5::detail

#endif
