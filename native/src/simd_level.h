// The SIMD level of a data-plane kernel, chosen at run time. md5_mb, scrypt and blake3 each compile
// some levels (their *_sse2/_avx2/_avx512 files, with target pragmas) and ask here which of those this
// CPU runs, capped by an environment value that names a level (DRIVESEED_MD5, DRIVESEED_SCRYPT_SIMD,
// DRIVESEED_BLAKE3: tests and A/B benchmarks).
#pragma once

namespace ds::simd {

enum class Level { Scalar = 0, Sse2 = 1, Avx2 = 2, Avx512 = 3 };

constexpr unsigned Bit(Level l) { return 1u << static_cast<unsigned>(l); }

// Whether this CPU, and the OS (which must save the registers), runs code of `level`: SSE2 on every
// x86-64; AVX-512 means AVX2, AVX-512F and AVX-512VL. Scalar always; anything else off x86 or GCC/Clang.
bool CpuHas(Level level);
// The highest level of `compiled` (a set of Bit(level)) that this CPU runs; Scalar when none.
Level Best(unsigned compiled);
// `best`, capped at the level `cap` names ("scalar", "sse2", "avx2" or "avx512"; nullptr or another
// value: no cap): the highest level of `compiled` at or below both.
Level Capped(Level best, unsigned compiled, const char* cap);
// "scalar", "sse2", "avx2" or "avx512".
const char* Name(Level level);

}  // namespace ds::simd
