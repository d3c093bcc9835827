// scrypt (RFC 7914): the repository's passphrase KDF (docs/format.md §config), bit-identical to
// node:crypto's scrypt and faster than it: OpenSSL's ROMix runs a scalar Salsa20/8 with a byte-order
// conversion per word, while the vector paths here keep each 64-byte block in four 128-bit registers
// in the diagonal order (docs/native-io.md "scrypt").
//
// BlockMix is one chain of Salsa20/8 calls, so the speed comes from inside one Salsa20/8: its four
// quarter-rounds of a column (or row) round run as one vector operation each. SSE2 is the baseline on
// x86-64; AVX-512VL adds a one-instruction rotate (vprold) and a three-input XOR (vpternlogd). The
// portable scalar path, written straight from the RFC in the natural word order, is the fallback and
// the reference the tests compare the others with. PBKDF2-HMAC-SHA-256 is OpenSSL's.
//
// The implementation is picked per call: the best the CPU offers (runtime dispatch, as in md5_mb.h),
// capped by DRIVESEED_SCRYPT_SIMD=scalar|sse2|avx512, which the caller reads on the JS thread
// (Pick). Derive is safe on any thread.
#pragma once
#include <cstddef>
#include <cstdint>

#include "simd_level.h"

namespace ds::scrypt {

// Scalar, Sse2 or Avx512 (simd_level.h; simd::Name gives its name).
using Impl = simd::Level;

// Memory cap of one derivation: V (128·r·N bytes) plus B (128·r·p) and two BlockMix buffers. 1 GiB is
// eight times the repository's default (N = 2^17, r = 8: 128 MiB).
constexpr uint64_t kMaxMemory = uint64_t{1} << 30;

// The best implementation this CPU has (asked once, then cached).
Impl Best();
// Best(), capped by a DRIVESEED_SCRYPT_SIMD value (nullptr or an unknown value: no cap). A cap above
// what the CPU offers is lowered to Best().
Impl Pick(const char* cap);

// Throws ds::Failure EINVAL when N is not a power of two ≥ 2, N ≥ 2^(16·r) (RFC 7914 §6), r or p is 0
// or r·p ≥ 2^30 (§2), and ERR_TOO_LARGE when the derivation would need more than kMaxMemory.
void CheckParams(uint64_t N, uint64_t r, uint64_t p);

// out ← scrypt(password, salt, N, r, p, outLen) with the given implementation (one Best() allows).
// Every intermediate that depends on the password (B, V, the BlockMix buffers) is zeroed before it is
// freed. Throws as CheckParams, ENOMEM when the memory cannot be had, ERR_INTERNAL when OpenSSL fails.
// Any thread.
void Derive(const uint8_t* password, size_t passwordLen, const uint8_t* salt, size_t saltLen, uint64_t N, uint64_t r,
            uint64_t p, uint8_t* out, size_t outLen, Impl impl);

}  // namespace ds::scrypt
