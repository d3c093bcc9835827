#include "blake3.h"

#include <cstdlib>
#include <cstring>

#include "blake3_simd.h"

namespace ds::blake3 {

namespace {

// ---- the specification's constants --------------------------------------------------------------

// The initial chaining value of the plain hash (the same words as SHA-256's IV) and words 8–11 of
// every compression's state.
constexpr uint32_t kIV[8] = {0x6A09E667u, 0xBB67AE85u, 0x3C6EF372u, 0xA54FF53Au,
                             0x510E527Fu, 0x9B05688Cu, 0x1F83D9ABu, 0x5BE0CD19u};
constexpr uint32_t kChunkStart = 1, kChunkEnd = 2, kParent = 4, kRoot = 8, kKeyedHash = 16;
constexpr size_t kBlockLen = 64;
constexpr size_t kChunkLen = 1024;
constexpr int kPermutation[16] = {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8};

// A subtree of at most this many chunks is hashed flat: all its chunks' chaining values into one
// array on the stack (8 KiB), then reduced level by level, each level 16 or 8 parents at a time.
// Larger subtrees split as the specification's tree does (Subtree).
constexpr size_t kLeafChunks = 256;

// ---- the portable scalar path: the specification as written ---------------------------------------

uint32_t Rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

uint32_t Load32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}

// The quarter-round G of the state words a, b, c, d with message words x, y.
void G(uint32_t* v, int a, int b, int c, int d, uint32_t x, uint32_t y) {
  v[a] = v[a] + v[b] + x;
  v[d] = Rotr(v[d] ^ v[a], 16);
  v[c] = v[c] + v[d];
  v[b] = Rotr(v[b] ^ v[c], 12);
  v[a] = v[a] + v[b] + y;
  v[d] = Rotr(v[d] ^ v[a], 8);
  v[c] = v[c] + v[d];
  v[b] = Rotr(v[b] ^ v[c], 7);
}

// Which message word G reads in each round: word i of round r + 1 is word kPermutation[i] of round r
// (the specification permutes the words between rounds; indexing through this table is the same).
struct Schedule {
  uint8_t s[7][16];
};
constexpr Schedule MakeSchedule() {
  Schedule t{};
  for (int i = 0; i < 16; i++) t.s[0][i] = static_cast<uint8_t>(i);
  for (int r = 1; r < 7; r++)
    for (int i = 0; i < 16; i++) t.s[r][i] = t.s[r - 1][kPermutation[i]];
  return t;
}
constexpr Schedule kSchedule = MakeSchedule();

// cv ← the first eight words of compress(cv, m, counter, blockLen, flags): all the tree needs. The
// seven rounds unrolled: 5.8 against 7.0 cycles per byte with a loop that permutes the words.
void Compress(uint32_t cv[8], const uint32_t m[16], uint64_t counter, uint32_t blockLen, uint32_t flags) {
  uint32_t v[16] = {cv[0],
                    cv[1],
                    cv[2],
                    cv[3],
                    cv[4],
                    cv[5],
                    cv[6],
                    cv[7],
                    kIV[0],
                    kIV[1],
                    kIV[2],
                    kIV[3],
                    static_cast<uint32_t>(counter),
                    static_cast<uint32_t>(counter >> 32),
                    blockLen,
                    flags};
#pragma GCC unroll 7
  for (const auto& s : kSchedule.s) {
    G(v, 0, 4, 8, 12, m[s[0]], m[s[1]]);  // columns
    G(v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
    G(v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
    G(v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
    G(v, 0, 5, 10, 15, m[s[8]], m[s[9]]);  // diagonals
    G(v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
    G(v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
    G(v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
  }
  for (int i = 0; i < 8; i++) cv[i] = v[i] ^ v[i + 8];
}

// The chaining value of one chunk: len bytes (0 only for an empty input, else 1..1024) of chunk
// number `counter`, from the starting value key; the ROOT flag on its last block when it is the
// whole input.
void ChunkScalar(const uint32_t key[8], const uint8_t* p, size_t len, uint64_t counter, uint32_t flags, bool root,
                 uint32_t cv[8]) {
  std::memcpy(cv, key, 32);
  const size_t blocks = len == 0 ? 1 : (len + kBlockLen - 1) / kBlockLen;
  for (size_t b = 0; b < blocks; b++) {
    const size_t n = len - b * kBlockLen < kBlockLen ? len - b * kBlockLen : kBlockLen;
    uint8_t bytes[kBlockLen] = {};  // the last block is padded with zeros; its length says how many count
    if (n) std::memcpy(bytes, p + b * kBlockLen, n);
    uint32_t m[16];
    for (int i = 0; i < 16; i++) m[i] = Load32(bytes + 4 * i);
    uint32_t f = flags;
    if (b == 0) f |= kChunkStart;
    if (b + 1 == blocks) f |= kChunkEnd | (root ? kRoot : 0);
    Compress(cv, m, counter, static_cast<uint32_t>(n), f);
  }
}

// out ← the chaining value of the parent of left and right (out may be either of them).
void ParentScalar(const uint32_t key[8], const uint32_t left[8], const uint32_t right[8], uint32_t flags,
                  uint32_t out[8]) {
  uint32_t m[16];
  std::memcpy(m, left, 32);
  std::memcpy(m + 8, right, 32);
  std::memcpy(out, key, 32);
  Compress(out, m, 0, kBlockLen, flags | kParent);
}

// ---- the tree ---------------------------------------------------------------------------------------

// What every node of one hash shares.
struct Hasher {
  uint32_t key[8];  // the starting chaining value of every chunk and parent
  uint32_t flags;   // 0 or KEYED_HASH
  Impl impl;
};

// An unused lane of a vector kernel reads these (a full chunk's worth) and its result is dropped.
alignas(64) const uint8_t kIdle[kChunkLen] = {};

// Runs `count` ≤ 16 lanes of one chain each through the widest kernel that suits: 16 lanes for more
// than 8 on AVX-512, else groups of 8 (see blake3_simd.h for the arguments). Returns false where the
// scalar path should do the work instead (no vector level, or a single lane). Lanes beyond count read
// kIdle; their results are not written.
bool VectorLanes(const Hasher& h, const uint8_t* const* ptr, size_t count, size_t blocks, uint64_t counter,
                 uint32_t counterStep, uint32_t flags, uint32_t flagsStart, uint32_t flagsEnd, uint32_t* out) {
  if (h.impl == Impl::Scalar || count < 2) return false;
  const size_t lanes = h.impl == Impl::Avx512 && count > 8 ? 16 : 8;
  for (size_t g = 0; g < count; g += lanes) {
    const size_t k = count - g < lanes ? count - g : lanes;
    const uint8_t* p[16];
    for (size_t i = 0; i < lanes; i++) p[i] = i < k ? ptr[g + i] : kIdle;
    alignas(64) uint32_t tmp[16 * 8];
    uint32_t* dst = k == lanes ? out + 8 * g : tmp;
    const uint64_t c = counter + g * counterStep;
    if (lanes == 16)
      detail::CompressAvx512x16(p, blocks, h.key, c, counterStep, flags, flagsStart, flagsEnd, dst);
    else if (h.impl == Impl::Avx512)
      detail::CompressAvx512x8(p, blocks, h.key, c, counterStep, flags, flagsStart, flagsEnd, dst);
    else
      detail::CompressAvx2x8(p, blocks, h.key, c, counterStep, flags, flagsStart, flagsEnd, dst);
    if (dst == tmp) std::memcpy(out + 8 * g, tmp, k * 32);
  }
  return true;
}

// The chaining values of `count` full chunks at p, numbered from chunk0, into out (8 words each).
void FullChunks(const Hasher& h, const uint8_t* p, size_t count, uint64_t chunk0, uint32_t* out) {
  for (size_t i = 0; i < count;) {
    const size_t k = count - i < 16 ? count - i : 16;
    const uint8_t* ptr[16];
    for (size_t j = 0; j < k; j++) ptr[j] = p + (i + j) * kChunkLen;
    if (VectorLanes(h, ptr, k, kChunkLen / kBlockLen, chunk0 + i, 1, h.flags, kChunkStart, kChunkEnd, out + 8 * i)) {
      i += k;
    } else {
      ChunkScalar(h.key, ptr[0], kChunkLen, chunk0 + i, h.flags, false, out + 8 * i);
      i++;
    }
  }
}

// One tree level in place: cvs[i] ← parent(cvs[2i], cvs[2i + 1]) for i < pairs (8 words each). A batch
// of lanes reads all its pairs before it writes, and writes below what later batches read.
void ParentLevel(const Hasher& h, uint32_t* cvs, size_t pairs) {
  for (size_t i = 0; i < pairs;) {
    const size_t k = pairs - i < 16 ? pairs - i : 16;
    const uint8_t* ptr[16];
    for (size_t j = 0; j < k; j++) ptr[j] = reinterpret_cast<const uint8_t*>(cvs + 16 * (i + j));
    if (VectorLanes(h, ptr, k, 1, 0, 0, h.flags | kParent, 0, 0, cvs + 8 * i)) {
      i += k;
    } else {
      ParentScalar(h.key, cvs + 16 * i, cvs + 16 * i + 8, h.flags, cvs + 8 * i);
      i++;
    }
  }
}

// The chaining value of a subtree of at most kLeafChunks chunks (len ≥ 1 bytes from chunk chunk0), or
// with root (the whole input, more than one chunk) the root node's. Pairing neighbours level by level,
// an odd last node moving up unchanged, builds the specification's tree (each left subtree the
// largest power of two of chunks that leaves the right one non-empty).
void Flat(const Hasher& h, const uint8_t* p, size_t len, uint64_t chunk0, bool root, uint32_t cv[8]) {
  alignas(64) uint32_t cvs[kLeafChunks * 8];
  size_t n = (len + kChunkLen - 1) / kChunkLen;
  const size_t full = len / kChunkLen;
  FullChunks(h, p, full, chunk0, cvs);
  if (full < n)
    ChunkScalar(h.key, p + full * kChunkLen, len - full * kChunkLen, chunk0 + full, h.flags, false, cvs + 8 * full);
  while (n > (root ? 2 : 1)) {
    const size_t pairs = n / 2;
    ParentLevel(h, cvs, pairs);
    if (n & 1) std::memcpy(cvs + 8 * pairs, cvs + 8 * (n - 1), 32);
    n = pairs + (n & 1);
  }
  if (root)
    ParentScalar(h.key, cvs, cvs + 8, h.flags | kRoot, cv);
  else
    std::memcpy(cv, cvs, 32);
}

// The number of chunks in the left subtree of a node over n ≥ 2 chunks: the largest power of two
// below n.
size_t LeftChunks(size_t n) {
  size_t left = 1;
  while (left * 2 < n) left *= 2;
  return left;
}

// The chaining value of the subtree over len ≥ 1 bytes starting at chunk chunk0 (not the root).
void Subtree(const Hasher& h, const uint8_t* p, size_t len, uint64_t chunk0, uint32_t cv[8]) {
  const size_t n = (len + kChunkLen - 1) / kChunkLen;
  if (n <= kLeafChunks) return Flat(h, p, len, chunk0, false, cv);
  const size_t leftLen = LeftChunks(n) * kChunkLen;
  uint32_t pair[16];
  Subtree(h, p, leftLen, chunk0, pair);
  Subtree(h, p + leftLen, len - leftLen, chunk0 + leftLen / kChunkLen, pair + 8);
  ParentScalar(h.key, pair, pair + 8, h.flags, cv);
}

void Root(const Hasher& h, const void* data, size_t len, uint8_t out[kOutSize]) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t cv[8];
  if (len <= kChunkLen) {
    ChunkScalar(h.key, p, len, 0, h.flags, true, cv);
  } else if (len <= kLeafChunks * kChunkLen) {
    Flat(h, p, len, 0, true, cv);  // all chunks in the same batches, not split in two at the root
  } else {
    const size_t leftLen = LeftChunks((len + kChunkLen - 1) / kChunkLen) * kChunkLen;
    uint32_t pair[16];
    Subtree(h, p, leftLen, 0, pair);
    Subtree(h, p + leftLen, len - leftLen, leftLen / kChunkLen, pair + 8);
    ParentScalar(h.key, pair, pair + 8, h.flags | kRoot, cv);
  }
  for (int i = 0; i < 8; i++)
    for (int b = 0; b < 4; b++) out[4 * i + b] = static_cast<uint8_t>(cv[i] >> (8 * b));
}

// ---- dispatch ---------------------------------------------------------------------------------------

// The levels this build has (a function: the flags are constants of other translation units).
unsigned Compiled() {
  return simd::Bit(Impl::Scalar) | (detail::kAvx2Compiled ? simd::Bit(Impl::Avx2) : 0) |
         (detail::kAvx512Compiled ? simd::Bit(Impl::Avx512) : 0);
}

// The path a caller's `impl` may take here: the highest level this build and CPU have, at or below it.
Impl Usable(Impl impl) { return simd::Capped(Best(), Compiled(), simd::Name(impl)); }

}  // namespace

Impl Best() {
  static const Impl impl = simd::Best(Compiled());
  return impl;
}

Impl Pick(const char* cap) { return simd::Capped(Best(), Compiled(), cap); }

Impl Active() {
  static const Impl impl = Pick(std::getenv("DRIVESEED_BLAKE3"));  // NOLINT(concurrency-mt-unsafe): see blake3.h
  return impl;
}

void Blake3Hash(const void* data, size_t len, uint8_t out[kOutSize], Impl impl) {
  Hasher h{};
  std::memcpy(h.key, kIV, sizeof h.key);
  h.flags = 0;
  h.impl = Usable(impl);
  Root(h, data, len, out);
}

void Blake3Hash(const void* data, size_t len, uint8_t out[kOutSize]) { Blake3Hash(data, len, out, Active()); }

void Blake3Keyed(const uint8_t key[kKeySize], const void* data, size_t len, uint8_t out[kOutSize], Impl impl) {
  Hasher h{};
  for (int i = 0; i < 8; i++) h.key[i] = Load32(key + 4 * i);
  h.flags = kKeyedHash;
  h.impl = Usable(impl);
  Root(h, data, len, out);
}

void Blake3Keyed(const uint8_t key[kKeySize], const void* data, size_t len, uint8_t out[kOutSize]) {
  Blake3Keyed(key, data, len, out, Active());
}

}  // namespace ds::blake3
