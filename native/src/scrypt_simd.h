// The vector ROMix kernels behind scrypt.cc's dispatch. Internal to scrypt*.cc: a kernel may run only
// after scrypt::Best() found its instruction set on this CPU.
#pragma once
#include <cstddef>
#include <cstdint>

namespace ds::scrypt::detail {

// Whether this build contains the kernel (x86-64 with SSE2; AVX-512 also needs a GCC-compatible
// compiler). Other builds have stubs that are never called.
extern const bool kSse2Compiled;
extern const bool kAvx512Compiled;

// ROMix (RFC 7914 §5) of one 128·r-byte block x, as 32·r host-order words with every 16-word Salsa
// block in the diagonal order of scrypt.cc's kDiagonal. v: 32·r·N words of scratch; y: 32·r words.
// All three 64-byte aligned. N is a power of two ≥ 2.
void RoMixSse2(uint32_t* x, uint32_t* v, uint32_t* y, size_t N, size_t r);
void RoMixAvx512(uint32_t* x, uint32_t* v, uint32_t* y, size_t N, size_t r);

}  // namespace ds::scrypt::detail
