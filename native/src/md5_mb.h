// Multi-buffer MD5: several independent messages hashed at once, one per SIMD lane (AVX-512: 16
// lanes, AVX2: 8), with a portable scalar path as the fallback. MD5 cannot be parallelised inside one
// message, but Azure's drive manifest hashes every 4 MiB block separately, so the blocks of a pack or
// a file are independent messages: hashing 8 or 16 of them per instruction stream is where the speed
// comes from (docs/native-io.md has the measurements).
//
// The implementation is picked once per process from the CPU (runtime dispatch; the vector code is
// compiled with target attributes in md5_mb_avx2.cc / md5_mb_avx512.cc and only ever called after the
// CPU and the OS said they support it). DRIVESEED_MD5=scalar|avx2|avx512 caps the choice (tests and
// benchmarks use it to run every path on one machine); a cap above what the CPU offers is lowered.
//
// Every function is safe on any thread; Md5Lanes objects are owned by one thread at a time.
#pragma once
#include <cstddef>
#include <cstdint>

#include "simd_level.h"

namespace ds::md5 {

constexpr size_t kMaxLanes = 16;
constexpr size_t kDigestSize = 16;

// Scalar, Avx2 or Avx512 (simd_level.h; simd::Name gives its name).
using Impl = simd::Level;

// The implementation in use in this process.
Impl Active();
// Lanes worth filling with the active implementation (1, 8 or 16): callers size their batches by it.
size_t PreferredLanes();

// MD5 of n independent messages (any n, any lengths, any alignment): out + 16 × i receives message
// i's digest. Messages are hashed up to kMaxLanes at a time.
void HashMany(const uint8_t* const* data, const size_t* len, size_t n, uint8_t* out);

// MD5 of every blockSize piece of data (the last may be short; none for len 0), 16 bytes each into out.
void HashBlocks(const uint8_t* data, size_t len, size_t blockSize, uint8_t* out);

// Up to kMaxLanes messages fed in lockstep, for callers that want to hash a piece of every message and
// then use those pieces while they are still in cache (the writers hash, then pwrite, 64 KiB at a time).
class Md5Lanes {
 public:
  // Starts n (1..kMaxLanes) empty messages.
  explicit Md5Lanes(size_t n);
  // Appends len bytes from p[i] to message i, for every i < n. len must be a multiple of 64.
  void Update(const uint8_t* const* p, size_t len);
  // Appends tail[i] (tailLen[i] bytes, any length) to message i and writes message i's digest to
  // out + 16 × i. The object is spent afterwards.
  void Final(const uint8_t* const* tail, const size_t* tailLen, uint8_t* out);

 private:
  size_t n_;
  uint64_t bytes_[kMaxLanes];
  alignas(64) uint32_t state_[4 * kMaxLanes];  // A of every lane, then B, C, D
};

}  // namespace ds::md5
