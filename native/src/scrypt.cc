#include "scrypt.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstring>
#include <new>
#include <string>
#include <system_error>
#include <thread>

#include "errors.h"
#include "platform.h"
#include "scrypt_simd.h"

namespace ds::scrypt {

namespace {

// The levels this build has (a function: the flags are constants of other translation units). SSE2 is
// part of every x86-64 CPU; kSse2Compiled says whether this build has that path.
unsigned Compiled() {
  return simd::Bit(Impl::Scalar) | (detail::kSse2Compiled ? simd::Bit(Impl::Sse2) : 0) |
         (detail::kAvx512Compiled ? simd::Bit(Impl::Avx512) : 0);
}

uint32_t Load32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}

void Store32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
}

// ---- the portable scalar path: RFC 7914 as written, natural word order ------------------------------

uint32_t Rotl(uint32_t x, int s) { return (x << s) | (x >> (32 - s)); }

// Salsa20/8 core (RFC 7914 §3): b ← b + 8 rounds of b.
void Salsa8Scalar(uint32_t b[16]) {
  uint32_t x[16];
  std::memcpy(x, b, sizeof x);
  for (int i = 0; i < 8; i += 2) {
    // Columns.
    x[4] ^= Rotl(x[0] + x[12], 7), x[8] ^= Rotl(x[4] + x[0], 9);
    x[12] ^= Rotl(x[8] + x[4], 13), x[0] ^= Rotl(x[12] + x[8], 18);
    x[9] ^= Rotl(x[5] + x[1], 7), x[13] ^= Rotl(x[9] + x[5], 9);
    x[1] ^= Rotl(x[13] + x[9], 13), x[5] ^= Rotl(x[1] + x[13], 18);
    x[14] ^= Rotl(x[10] + x[6], 7), x[2] ^= Rotl(x[14] + x[10], 9);
    x[6] ^= Rotl(x[2] + x[14], 13), x[10] ^= Rotl(x[6] + x[2], 18);
    x[3] ^= Rotl(x[15] + x[11], 7), x[7] ^= Rotl(x[3] + x[15], 9);
    x[11] ^= Rotl(x[7] + x[3], 13), x[15] ^= Rotl(x[11] + x[7], 18);
    // Rows.
    x[1] ^= Rotl(x[0] + x[3], 7), x[2] ^= Rotl(x[1] + x[0], 9);
    x[3] ^= Rotl(x[2] + x[1], 13), x[0] ^= Rotl(x[3] + x[2], 18);
    x[6] ^= Rotl(x[5] + x[4], 7), x[7] ^= Rotl(x[6] + x[5], 9);
    x[4] ^= Rotl(x[7] + x[6], 13), x[5] ^= Rotl(x[4] + x[7], 18);
    x[11] ^= Rotl(x[10] + x[9], 7), x[8] ^= Rotl(x[11] + x[10], 9);
    x[9] ^= Rotl(x[8] + x[11], 13), x[10] ^= Rotl(x[9] + x[8], 18);
    x[12] ^= Rotl(x[15] + x[14], 7), x[13] ^= Rotl(x[12] + x[15], 9);
    x[14] ^= Rotl(x[13] + x[12], 13), x[15] ^= Rotl(x[14] + x[13], 18);
  }
  for (int i = 0; i < 16; i++) b[i] += x[i];
  OPENSSL_cleanse(x, sizeof x);
}

// BlockMix (RFC 7914 §4): out ← BlockMix(in), 2r blocks of 16 words; out ≠ in.
void BlockMixScalar(const uint32_t* in, uint32_t* out, size_t r) {
  uint32_t x[16];
  std::memcpy(x, in + (2 * r - 1) * 16, sizeof x);
  for (size_t i = 0; i < 2 * r; i++) {
    for (int k = 0; k < 16; k++) x[k] ^= in[16 * i + k];
    Salsa8Scalar(x);
    std::memcpy(out + 16 * ((i & 1) ? r + i / 2 : i / 2), x, sizeof x);
  }
  OPENSSL_cleanse(x, sizeof x);
}

// ROMix (RFC 7914 §5): x ← ROMix(x); v: 32·r·N words, y: 32·r words of scratch.
void RoMixScalar(uint32_t* x, uint32_t* v, uint32_t* y, size_t N, size_t r) {
  const size_t w = 32 * r;
  for (size_t i = 0; i < N; i++) {
    std::memcpy(v + i * w, x, w * 4);
    BlockMixScalar(x, y, r);
    std::memcpy(x, y, w * 4);
  }
  for (size_t i = 0; i < N; i++) {
    const size_t j = x[w - 16] & (N - 1);  // Integerify: the first word of the last block, mod N
    for (size_t k = 0; k < w; k++) x[k] ^= v[j * w + k];
    BlockMixScalar(x, y, r);
    std::memcpy(x, y, w * 4);
  }
}

// ---- the vector paths' block order ------------------------------------------------------------------

// Word k of a block in the diagonal order (scrypt_kernel.inc) is word kDiagonal[k] of the block.
constexpr int kDiagonal[16] = {0, 5, 10, 15, 4, 9, 14, 3, 8, 13, 2, 7, 12, 1, 6, 11};

// ---- memory -----------------------------------------------------------------------------------------

// An aligned heap block zeroed before it is freed (OPENSSL_cleanse: a store the compiler keeps). A
// block of 2 MiB or more is aligned to 2 MiB and asks for huge pages: ROMix's second loop reads V at
// random, and with 4 KiB pages almost every read missed the TLB (AVX-512: 171 → 155 ms for N=2^17 r=8).
class Wiped {
 public:
  explicit Wiped(size_t bytes) : size_(bytes) {
    const bool huge = bytes >= platform::kHugePage;
    p_ = static_cast<uint8_t*>(platform::AlignedAlloc(bytes, huge ? platform::kHugePage : 64));
    if (!p_) throw std::bad_alloc();
    if (huge) platform::AdviseHugePages(p_, bytes);
  }
  ~Wiped() {
    OPENSSL_cleanse(p_, size_);
    platform::AlignedFree(p_);
  }
  Wiped(const Wiped&) = delete;
  Wiped& operator=(const Wiped&) = delete;
  uint8_t* bytes() const { return p_; }
  uint32_t* words() const { return reinterpret_cast<uint32_t*>(p_); }

 private:
  uint8_t* p_;
  size_t size_;
};

// V's pages faulted in on a second thread while ROMix's first loop fills V. A fresh 128 MiB V is
// 32768 page faults, about 60 ms of the derivation's ~215 ms on one core here; populated ahead of
// the loop, they cost the loop nothing (docs/native-io.md "scrypt"). The pages' contents never
// change, so the loop may write them at the same time. Joined (stopped early if still running) by
// the destructor, before V is freed.
class Prefault {
 public:
  static constexpr size_t kMin = size_t{16} << 20;  // below this, the faults cost less than a thread
  static constexpr size_t kStep = size_t{2} << 20;  // ahead of the loop by a few steps at most

  Prefault(uint8_t* p, size_t len) {
    if (len < kMin) return;
    try {
      thread_ = std::thread([this, p, len] { Run(p, len); });
    } catch (const std::system_error&) {
      // no thread to spare: the loop faults the pages in itself
    }
  }
  ~Prefault() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  Prefault(const Prefault&) = delete;
  Prefault& operator=(const Prefault&) = delete;

 private:
  // Prefault thread.
  void Run(uint8_t* p, size_t len) {
    for (size_t off = 0; off < len && !stop_; off += kStep)
      if (!platform::PrefaultWrite(p + off, std::min(kStep, len - off))) return;  // not on this OS
  }

  std::atomic<bool> stop_{false};
  std::thread thread_;
};

void Pbkdf2(const uint8_t* password, size_t passwordLen, const uint8_t* salt, size_t saltLen, uint8_t* out,
            size_t outLen) {
  static const uint8_t kEmpty = 0;  // a null pointer reads as "not set" to some OpenSSL builds
  // Callers bound every length by kMaxMemory (1 GiB) or the binding's 1 GiB argument limit: all fit an int.
  if (PKCS5_PBKDF2_HMAC(passwordLen ? reinterpret_cast<const char*>(password) : reinterpret_cast<const char*>(&kEmpty),
                        static_cast<int>(passwordLen), saltLen ? salt : &kEmpty, static_cast<int>(saltLen), 1,
                        EVP_sha256(), static_cast<int>(outLen), out) != 1)
    ThrowCode("ERR_INTERNAL", "OpenSSL PKCS5_PBKDF2_HMAC failed in the native scrypt; please report");
}

}  // namespace

Impl Best() {
  static const Impl impl = simd::Best(Compiled());
  return impl;
}

Impl Pick(const char* cap) { return simd::Capped(Best(), Compiled(), cap); }

void CheckParams(uint64_t N, uint64_t r, uint64_t p) {
  if (N < 2 || (N & (N - 1)) != 0)
    ThrowCode("EINVAL", "scrypt N must be a power of two of at least 2, not " + std::to_string(N));
  if (r == 0 || p == 0) ThrowCode("EINVAL", "scrypt r and p must be at least 1");
  if (r >= (uint64_t{1} << 30) || p >= (uint64_t{1} << 30) || r * p >= (uint64_t{1} << 30))
    ThrowCode("EINVAL",
              "scrypt r·p must be less than 2^30 (RFC 7914), not " + std::to_string(r) + "·" + std::to_string(p));
  if (16 * r < 64 && N >= (uint64_t{1} << (16 * r)))
    ThrowCode("EINVAL", "scrypt N must be less than 2^(16·r) (RFC 7914), not " + std::to_string(N) +
                            " with r = " + std::to_string(r));
  // 128·r·(N + p + 2) ≤ kMaxMemory, without overflow: r < 2^30, N and p are checked against the cap first.
  const uint64_t unit = 128 * r;
  if (unit > kMaxMemory || N > kMaxMemory / unit || p > kMaxMemory / unit || N + p + 2 > kMaxMemory / unit)
    ThrowCode("ERR_TOO_LARGE", "scrypt with N = " + std::to_string(N) + ", r = " + std::to_string(r) +
                                   ", p = " + std::to_string(p) + " needs more than " +
                                   std::to_string(kMaxMemory >> 20) + " MiB (128·r·(N + p) bytes); lower N or r");
}

void Derive(const uint8_t* password, size_t passwordLen, const uint8_t* salt, size_t saltLen, uint64_t N, uint64_t r,
            uint64_t p, uint8_t* out, size_t outLen, Impl impl) {
  CheckParams(N, r, p);
  if (impl > Best()) impl = Best();
  const size_t n = static_cast<size_t>(N), rr = static_cast<size_t>(r), pp = static_cast<size_t>(p);
  const size_t blockBytes = 128 * rr, w = 32 * rr;
  Wiped b(blockBytes * pp);
  Wiped work(blockBytes * (n + 2));  // V (128·r·N bytes), then X and Y
  uint32_t* v = work.words();
  uint32_t* x = v + w * n;
  uint32_t* y = x + w;
  const Prefault prefault(work.bytes(), blockBytes * n);
  Pbkdf2(password, passwordLen, salt, saltLen, b.bytes(), blockBytes * pp);
  for (size_t i = 0; i < pp; i++) {
    uint8_t* bi = b.bytes() + i * blockBytes;
    if (impl == Impl::Scalar) {
      for (size_t k = 0; k < w; k++) x[k] = Load32(bi + 4 * k);
      RoMixScalar(x, v, y, n, rr);
      for (size_t k = 0; k < w; k++) Store32(bi + 4 * k, x[k]);
      continue;
    }
    for (size_t blk = 0; blk < 2 * rr; blk++)
      for (int k = 0; k < 16; k++) x[16 * blk + k] = Load32(bi + 64 * blk + 4 * kDiagonal[k]);
    if (impl == Impl::Avx512)
      detail::RoMixAvx512(x, v, y, n, rr);
    else
      detail::RoMixSse2(x, v, y, n, rr);
    for (size_t blk = 0; blk < 2 * rr; blk++)
      for (int k = 0; k < 16; k++) Store32(bi + 64 * blk + 4 * kDiagonal[k], x[16 * blk + k]);
  }
  Pbkdf2(password, passwordLen, b.bytes(), blockBytes * pp, out, outLen);
}

}  // namespace ds::scrypt
