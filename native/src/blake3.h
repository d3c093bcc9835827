// BLAKE3 (the BLAKE3 specification, https://github.com/BLAKE3-team/BLAKE3-specs): the plain hash and
// the keyed_hash mode (a PRF/MAC under a 32-byte key), 32 bytes of output (no extended output).
// Written from the specification: the compression function, 1 KiB chunks of 64-byte blocks chained
// through their chaining value, and the binary tree of parent nodes over the chunks' chaining values.
//
// Why it is fast: the full 1 KiB chunks of an input are independent, so 16 of them (AVX-512, one
// per 32-bit lane of a 512-bit register) or 8 (AVX2) are compressed at once with the state transposed
// across the lanes; the parents of a tree level are independent too and go 16 or 8 at a time. The
// portable scalar path, written straight from the specification, is the fallback, handles what is left
// over (the last partial chunk, the top of the tree) and is the reference the tests compare the others
// with (blake3_simd.h has the kernels; the vector code is compiled with target pragmas in
// blake3_avx2.cc / blake3_avx512.cc and called only after the CPU and the OS said they support it).
//
// Every function is safe on any thread.
#pragma once
#include <cstddef>
#include <cstdint>

#include "simd_level.h"

namespace ds::blake3 {

constexpr size_t kOutSize = 32;
constexpr size_t kKeySize = 32;

// Scalar, Avx2 or Avx512 (simd_level.h; simd::Name gives its name).
using Impl = simd::Level;

// The best implementation this CPU has (asked once, then cached).
Impl Best();
// Best(), capped by a DRIVESEED_BLAKE3 value "scalar", "avx2" or "avx512" (nullptr or an unknown
// value: no cap). A cap above what the CPU offers is lowered to Best().
Impl Pick(const char* cap);
// Pick(DRIVESEED_BLAKE3), read from the environment once, on the first call: make that call on the
// JS thread (addon load), as md5::Active() is, so no thread reads the environment while Node's
// process.env setter writes it.
Impl Active();

// BLAKE3 of len bytes at data (any length, 0 included; any alignment; data may be null when len is 0)
// into out, with Active() or the given implementation (one that Best() allows).
void Blake3Hash(const void* data, size_t len, uint8_t out[kOutSize]);
void Blake3Hash(const void* data, size_t len, uint8_t out[kOutSize], Impl impl);
// BLAKE3 keyed_hash: the same tree with the key's eight little-endian words as every node's starting
// chaining value and the KEYED_HASH flag on every compression.
void Blake3Keyed(const uint8_t key[kKeySize], const void* data, size_t len, uint8_t out[kOutSize]);
void Blake3Keyed(const uint8_t key[kKeySize], const void* data, size_t len, uint8_t out[kOutSize], Impl impl);

}  // namespace ds::blake3
