// The AVX-512 BLAKE3 kernels (blake3_simd.h): sixteen chains in 512-bit registers, and eight in
// 256-bit registers for smaller batches; every rotate is one vprord. Compiled for AVX-512F/VL by the
// target pragma below and called only after blake3::Best() found both on this CPU (and the OS saving
// their state).
#include <cstddef>
#include <cstdint>

#include "blake3_simd.h"

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

namespace ds::blake3::detail {
namespace {

#include "simd_transpose16.inc"
#include "simd_transpose8.inc"

struct Avx512x16 {
  using T = __m512i;
  static constexpr size_t kLanes = 16;
  static constexpr bool kInterleave = true;
  static T Set1(uint32_t k) { return _mm512_set1_epi32(static_cast<int>(k)); }
  static T Add(T a, T b) { return _mm512_add_epi32(a, b); }
  static T Xor(T a, T b) { return _mm512_xor_si512(a, b); }
  template <int n>
  static T Ror(T x) {
    return _mm512_ror_epi32(x, n);
  }
  static T LoadU(const uint32_t* p) { return _mm512_loadu_si512(p); }
  static void StoreU(uint32_t* p, T v) { _mm512_storeu_si512(p, v); }
  static void LoadMessage(const uint8_t* const* p, size_t offset, T* m) { LoadTransposed16(p, offset, m); }
};

struct Avx512x8 {
  using T = __m256i;
  static constexpr size_t kLanes = 8;
  static constexpr bool kInterleave = true;
  static T Set1(uint32_t k) { return _mm256_set1_epi32(static_cast<int>(k)); }
  static T Add(T a, T b) { return _mm256_add_epi32(a, b); }
  static T Xor(T a, T b) { return _mm256_xor_si256(a, b); }
  template <int n>
  static T Ror(T x) {
    return _mm256_ror_epi32(x, n);
  }
  static T LoadU(const uint32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void StoreU(uint32_t* p, T v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static void LoadMessage(const uint8_t* const* p, size_t offset, T* m) { LoadTransposed8(p, offset, m); }
};

#include "blake3_kernel.inc"

}  // namespace

void CompressAvx512x8(const uint8_t* const* ptr, size_t blocks, const uint32_t key[8], uint64_t counter,
                      uint32_t counterStep, uint32_t flags, uint32_t flagsStart, uint32_t flagsEnd, uint32_t* out) {
  Blake3Lanes<Avx512x8>(ptr, blocks, key, counter, counterStep, flags, flagsStart, flagsEnd, out);
}

void CompressAvx512x16(const uint8_t* const* ptr, size_t blocks, const uint32_t key[8], uint64_t counter,
                       uint32_t counterStep, uint32_t flags, uint32_t flagsStart, uint32_t flagsEnd, uint32_t* out) {
  Blake3Lanes<Avx512x16>(ptr, blocks, key, counter, counterStep, flags, flagsStart, flagsEnd, out);
}

}  // namespace ds::blake3::detail

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC diagnostic pop
#pragma GCC pop_options
#endif

namespace ds::blake3::detail {
const bool kAvx512Compiled = true;
}

#else  // no x86 or no GCC-compatible compiler: the scalar path only

namespace ds::blake3::detail {
const bool kAvx512Compiled = false;
void CompressAvx512x8(const uint8_t* const*, size_t, const uint32_t*, uint64_t, uint32_t, uint32_t, uint32_t, uint32_t,
                      uint32_t*) {}
void CompressAvx512x16(const uint8_t* const*, size_t, const uint32_t*, uint64_t, uint32_t, uint32_t, uint32_t, uint32_t,
                       uint32_t*) {}
}  // namespace ds::blake3::detail

#endif
