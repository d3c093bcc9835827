// The vector kernels behind md5_mb.cc's dispatch. Internal to md5_mb*.cc: each kernel may run only
// after md5::Active() found its instruction set on this CPU.
#pragma once
#include <cstddef>
#include <cstdint>

namespace ds::md5::detail {

// Whether this build contains the kernel (x86-64 with a GCC-compatible compiler; other builds have
// stubs that are never called).
extern const bool kAvx2Compiled;
extern const bool kAvx512Compiled;

// Compress `blocks` 64-byte blocks per lane. state: 4 × lanes words (A of every lane, then B, C, D);
// ptr[i], step[i]: lane i's first block and how far it moves per block (64, or 0 for an idle lane).
void CompressAvx2x8(uint32_t* state, const uint8_t* const* ptr, const size_t* step, size_t blocks);
void CompressAvx512x8(uint32_t* state, const uint8_t* const* ptr, const size_t* step, size_t blocks);
void CompressAvx512x16(uint32_t* state, const uint8_t* const* ptr, const size_t* step, size_t blocks);

}  // namespace ds::md5::detail
