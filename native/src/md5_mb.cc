#include "md5_mb.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "crypto.h"
#include "md5_mb_simd.h"

namespace ds::md5 {

namespace {

// The scalar lane type: the fallback, the tails, and batches of one.
struct Scalar {
  using T = uint32_t;
  static constexpr size_t kLanes = 1;
  static T Add(T a, T b) { return a + b; }
  static T Set1(uint32_t k) { return k; }
  template <int s>
  static T Rotl(T x) {
    return (x << s) | (x >> (32 - s));
  }
  static T F(T b, T c, T d) { return ((c ^ d) & b) ^ d; }
  static T G(T b, T c, T d) { return ((b ^ c) & d) ^ c; }
  static T H(T b, T c, T d) { return b ^ c ^ d; }
  static T I(T b, T c, T d) { return c ^ (b | ~d); }
  static T Load(const uint32_t* p) { return *p; }
  static void Store(uint32_t* p, T v) { *p = v; }
  static void LoadMessage(const uint8_t* const* p, T* m) {
    const uint8_t* b = p[0];
    for (int j = 0; j < 16; j++, b += 4)
      m[j] = static_cast<uint32_t>(b[0]) | static_cast<uint32_t>(b[1]) << 8 | static_cast<uint32_t>(b[2]) << 16 |
             static_cast<uint32_t>(b[3]) << 24;
  }
};

#include "md5_mb_kernel.inc"

constexpr uint32_t kInit[4] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u};

// An idle lane rereads this block (step 0); its state is thrown away.
alignas(64) const uint8_t kIdle[64] = {};

Impl Detect() {
  const unsigned compiled = simd::Bit(Impl::Scalar) | (detail::kAvx2Compiled ? simd::Bit(Impl::Avx2) : 0) |
                            (detail::kAvx512Compiled ? simd::Bit(Impl::Avx512) : 0);
  // Read once: InitUtil (util_fns.cc) calls Active() on the JS thread at addon load, before any job
  // thread exists, so nothing else is reading or writing the environment concurrently.
  const char* cap = std::getenv("DRIVESEED_MD5");  // NOLINT(concurrency-mt-unsafe)
  return simd::Capped(simd::Best(compiled), compiled, cap);
}

// Compresses `blocks` 64-byte blocks of each of n ≤ kMaxLanes lanes. st: 4 × kMaxLanes words (A of
// every lane, then B, C, D), the layout of Md5Lanes. p[i] advances by 64 per block.
void Compress(uint32_t* st, const uint8_t* const* p, size_t n, size_t blocks) {
  if (blocks == 0 || n == 0) return;
  const Impl impl = Active();
  if (impl == Impl::Scalar || n == 1) {
    for (size_t i = 0; i < n; i++) {
      uint32_t s[4] = {st[i], st[kMaxLanes + i], st[2 * kMaxLanes + i], st[3 * kMaxLanes + i]};
      const size_t step = 64;
      Md5CompressLanes<Scalar>(s, &p[i], &step, blocks);
      for (int w = 0; w < 4; w++) st[w * kMaxLanes + i] = s[w];
    }
    return;
  }
  const uint8_t* ptr[kMaxLanes];
  size_t step[kMaxLanes];
  if (impl == Impl::Avx512 && n > 8) {
    for (size_t i = 0; i < kMaxLanes; i++) {
      ptr[i] = i < n ? p[i] : kIdle;
      step[i] = i < n ? 64 : 0;
    }
    detail::CompressAvx512x16(st, ptr, step, blocks);
    return;
  }
  // Groups of 8 lanes with the 8-lane kernel (AVX-512VL where present: rotates and ternary logic on
  // 256-bit registers; else AVX2).
  for (size_t g = 0; g < n; g += 8) {
    alignas(32) uint32_t s8[32];
    for (size_t i = 0; i < 8; i++) {
      const bool live = g + i < n;
      ptr[i] = live ? p[g + i] : kIdle;
      step[i] = live ? 64 : 0;
      for (int w = 0; w < 4; w++) s8[w * 8 + i] = live ? st[w * kMaxLanes + g + i] : 0;
    }
    if (impl == Impl::Avx512)
      detail::CompressAvx512x8(s8, ptr, step, blocks);
    else
      detail::CompressAvx2x8(s8, ptr, step, blocks);
    for (size_t i = 0; i < 8 && g + i < n; i++)
      for (int w = 0; w < 4; w++) st[w * kMaxLanes + g + i] = s8[w * 8 + i];
  }
}

}  // namespace

Impl Active() {
  static const Impl impl = Detect();
  return impl;
}

size_t PreferredLanes() {
  switch (Active()) {
    case Impl::Avx512:
      return 16;
    case Impl::Avx2:
      return 8;
    default:
      return 1;
  }
}

Md5Lanes::Md5Lanes(size_t n) : n_(std::min(std::max<size_t>(n, 1), kMaxLanes)) {
  for (size_t i = 0; i < kMaxLanes; i++) {
    bytes_[i] = 0;
    for (int w = 0; w < 4; w++) state_[w * kMaxLanes + i] = kInit[w];
  }
}

void Md5Lanes::Update(const uint8_t* const* p, size_t len) {
  Compress(state_, p, n_, len / 64);
  for (size_t i = 0; i < n_; i++) bytes_[i] += len;
}

void Md5Lanes::Final(const uint8_t* const* tail, const size_t* tailLen, uint8_t* out) {
  const uint8_t* q[kMaxLanes];
  size_t rem[kMaxLanes];
  for (size_t i = 0; i < n_; i++) {
    q[i] = tail[i];
    rem[i] = tailLen[i];
    bytes_[i] += tailLen[i];
  }
  // Whole blocks of unequal tails: the lanes that still have some run together for as many blocks as
  // the shortest of them has, then the finished lanes drop out.
  for (;;) {
    size_t idx[kMaxLanes], k = 0, blocks = SIZE_MAX;
    for (size_t i = 0; i < n_; i++)
      if (rem[i] >= 64) {
        idx[k++] = i;
        blocks = std::min(blocks, rem[i] / 64);
      }
    if (k == 0) break;
    alignas(64) uint32_t st[4 * kMaxLanes];
    const uint8_t* ptr[kMaxLanes];
    for (size_t j = 0; j < k; j++) {
      ptr[j] = q[idx[j]];
      for (int w = 0; w < 4; w++) st[w * kMaxLanes + j] = state_[w * kMaxLanes + idx[j]];
    }
    if (k == 1) blocks = rem[idx[0]] / 64;
    Compress(st, ptr, k, blocks);
    for (size_t j = 0; j < k; j++) {
      const size_t i = idx[j];
      for (int w = 0; w < 4; w++) state_[w * kMaxLanes + i] = st[w * kMaxLanes + j];
      q[i] += blocks * 64;
      rem[i] -= blocks * 64;
    }
  }
  // Padding (RFC 1321 3.1–3.2): 0x80, zeros to 56 mod 64, the bit length little-endian; one or two
  // blocks per lane, hashed on the scalar path.
  for (size_t i = 0; i < n_; i++) {
    uint8_t pad[128] = {};
    if (rem[i]) std::memcpy(pad, q[i], rem[i]);  // an empty message may have no data pointer at all
    pad[rem[i]] = 0x80;
    const size_t padLen = rem[i] < 56 ? 64 : 128;
    const uint64_t bits = bytes_[i] * 8;
    for (int b = 0; b < 8; b++) pad[padLen - 8 + b] = static_cast<uint8_t>(bits >> (8 * b));
    uint32_t s[4] = {state_[i], state_[kMaxLanes + i], state_[2 * kMaxLanes + i], state_[3 * kMaxLanes + i]};
    const uint8_t* pp = pad;
    const size_t step = 64;
    Md5CompressLanes<Scalar>(s, &pp, &step, padLen / 64);
    for (int w = 0; w < 4; w++)
      for (int b = 0; b < 4; b++) out[16 * i + 4 * w + b] = static_cast<uint8_t>(s[w] >> (8 * b));
  }
}

void HashMany(const uint8_t* const* data, const size_t* len, size_t n, uint8_t* out) {
  if (n == 1 || Active() == Impl::Scalar) {
    // One message at a time: OpenSSL's assembly MD5 (about 10% faster than the portable kernel here).
    for (size_t i = 0; i < n; i++) crypto::Md5(data[i], len[i], out + 16 * i);
    return;
  }
  for (size_t g = 0; g < n; g += kMaxLanes) {
    const size_t k = std::min(kMaxLanes, n - g);
    Md5Lanes lanes(k);
    lanes.Final(data + g, len + g, out + 16 * g);
  }
}

void HashBlocks(const uint8_t* data, size_t len, size_t blockSize, uint8_t* out) {
  if (len == 0 || blockSize == 0) return;
  const size_t blocks = (len - 1) / blockSize + 1;
  for (size_t g = 0; g < blocks; g += kMaxLanes) {
    const uint8_t* p[kMaxLanes];
    size_t l[kMaxLanes];
    const size_t k = std::min(kMaxLanes, blocks - g);
    for (size_t i = 0; i < k; i++) {
      const size_t off = (g + i) * blockSize;
      p[i] = data + off;
      l[i] = std::min(blockSize, len - off);
    }
    HashMany(p, l, k, out + 16 * g);
  }
}

}  // namespace ds::md5
