// The vector BLAKE3 kernels behind blake3.cc's dispatch. Internal to blake3*.cc: a kernel may run
// only after blake3::Best() found its instruction set on this CPU.
#pragma once
#include <cstddef>
#include <cstdint>

namespace ds::blake3::detail {

// Whether this build contains the kernel (x86-64 with a GCC-compatible compiler; other builds have
// stubs that are never called).
extern const bool kAvx2Compiled;
extern const bool kAvx512Compiled;

// One chain of `blocks` 64-byte blocks per lane, 8 or 16 lanes at once: lane i starts from the
// chaining value key (8 words), reads its blocks from ptr[i], ptr[i] + 64, … (any alignment), and
// compresses them with counter + i·counterStep, block length 64 and the flags `flags`, plus
// flagsStart on its first block and flagsEnd on its last. Lane i's resulting chaining value goes to
// out[8i .. 8i+7]. A full chunk is blocks = 16, counterStep = 1, flagsStart = CHUNK_START,
// flagsEnd = CHUNK_END; a level of parents is blocks = 1, counter 0, counterStep 0, flags PARENT.
// A lane whose result is not wanted points at readable bytes (64 × blocks of them) all the same.
// out may overlap the input only where every lane's blocks precede out (the kernel reads all its
// input before it writes).
void CompressAvx2x8(const uint8_t* const* ptr, size_t blocks, const uint32_t key[8], uint64_t counter,
                    uint32_t counterStep, uint32_t flags, uint32_t flagsStart, uint32_t flagsEnd, uint32_t* out);
void CompressAvx512x8(const uint8_t* const* ptr, size_t blocks, const uint32_t key[8], uint64_t counter,
                      uint32_t counterStep, uint32_t flags, uint32_t flagsStart, uint32_t flagsEnd, uint32_t* out);
void CompressAvx512x16(const uint8_t* const* ptr, size_t blocks, const uint32_t key[8], uint64_t counter,
                       uint32_t counterStep, uint32_t flags, uint32_t flagsStart, uint32_t flagsEnd, uint32_t* out);

}  // namespace ds::blake3::detail
