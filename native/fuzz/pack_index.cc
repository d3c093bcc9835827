// pack_index: the pack reader of verifyPacksJob (pack_format.h: ParseTrailer, OpenHeader,
// CheckLayout) on a whole pack file given as the input, and each blob its header lists decoded with
// the header's id and rawLength, as restore and verify do. A custom mutator mostly opens the header
// with the test key, lets libFuzzer mutate its plaintext (count, ids, offsets, lengths), seals it again
// and fixes the trailer's header length, so the parser behind the authentication gets exercised.
// Checks: only ERR_CORRUPT / ERR_AUTH / ERR_TOO_LARGE; a header that passes CheckLayout tiles
// [0, header) exactly; sealing the parsed entries again and opening them gives the same entries.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "blob.h"
#include "fuzz_common.h"
#include "pack_format.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t maxSize);

namespace {

using namespace ds;

bool SameEntries(const std::vector<pack::Entry>& a, const std::vector<pack::Entry>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++)
    if (std::memcmp(a[i].id, b[i].id, blob::kIdSize) != 0 || a[i].offset != b[i].offset || a[i].length != b[i].length ||
        a[i].rawLength != b[i].rawLength)
      return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static crypto::Gcm gcm;
  static blob::Codec codec;
  const blob::Keys& keys = fuzz::TestKeys();
  // verifyPacksJob reports a pack this short without parsing anything.
  if (size < pack::kTrailerSize + pack::kHeaderOverhead) return 0;
  uint32_t headerLen;
  try {
    headerLen = pack::ParseTrailer(data + size - pack::kTrailerSize, size);
  } catch (const Failure& f) {
    fuzz::ExpectCode(f, {"ERR_CORRUPT"}, "ParseTrailer");
    return 0;
  }
  FUZZ_CHECK(headerLen >= pack::kHeaderOverhead && headerLen <= size - pack::kTrailerSize,
             "ParseTrailer accepted a header length of %u in a %zu-byte pack", headerLen, size);
  const uint64_t headerAt = size - pack::kTrailerSize - headerLen;
  std::vector<pack::Entry> entries;
  try {
    entries = pack::OpenHeader(data + headerAt, headerLen, keys.data, gcm);
  } catch (const Failure& f) {
    fuzz::ExpectCode(f, {"ERR_CORRUPT", "ERR_AUTH"}, "OpenHeader");
    return 0;
  }
  FUZZ_CHECK(entries.size() * pack::kEntrySize + pack::kHeaderOverhead == headerLen,
             "%zu entries from a %u-byte header", entries.size(), headerLen);

  std::vector<pack::LayoutProblem> problems = pack::CheckLayout(entries, headerAt, headerLen);
  if (problems.empty()) {
    uint64_t at = 0;
    for (const pack::Entry& e : entries) {
      FUZZ_CHECK(e.offset == at, "CheckLayout passed a blob at %llu where %llu was expected",
                 (unsigned long long)e.offset, (unsigned long long)at);
      at += e.length;
    }
    FUZZ_CHECK(at == headerAt, "CheckLayout passed blobs ending at %llu, header at %llu", (unsigned long long)at,
               (unsigned long long)headerAt);
  }
  // A problem's range lies inside the pack (one whose blobs would end past the header has length 0).
  for (const pack::LayoutProblem& p : problems)
    FUZZ_CHECK(p.length == 0 || (p.offset <= size && p.length <= size - p.offset),
               "a layout problem at [%llu, +%llu) outside the %zu-byte pack", (unsigned long long)p.offset,
               (unsigned long long)p.length, size);

  // Blobs that lie inside the pack are decoded as verify does (rawLength from the header is the cap).
  std::vector<uint8_t> raw;
  for (const pack::Entry& e : entries) {
    if (e.offset > headerAt || e.length > headerAt - e.offset) continue;
    if (e.rawLength > (1u << 20)) continue;  // bounded by the index (1 GiB) in the product; kept small here
    raw.resize(std::max<size_t>(e.rawLength, 1));
    try {
      size_t n = codec.Decode(keys, e.id, data + e.offset, e.length, raw.data(), e.rawLength);
      FUZZ_CHECK(n <= e.rawLength, "Decode returned %zu bytes, rawLength %u", n, e.rawLength);
    } catch (const Failure& f) {
      fuzz::ExpectCode(f, {"ERR_CORRUPT", "ERR_AUTH", "ERR_TOO_LARGE"}, "Decode of a listed blob");
    }
  }

  // The writer's side of the format reads back what it wrote.
  std::vector<uint8_t> sealed = pack::SealHeader(entries, keys.data, gcm);
  FUZZ_CHECK(sealed.size() == headerLen, "SealHeader wrote %zu bytes for a %u-byte header", sealed.size(), headerLen);
  FUZZ_CHECK(SameEntries(pack::OpenHeader(sealed.data(), sealed.size(), keys.data, gcm), entries),
             "SealHeader then OpenHeader changed the entries");
  uint8_t trailer[pack::kTrailerSize];
  pack::MakeTrailer(headerLen, trailer);
  FUZZ_CHECK(pack::ParseTrailer(trailer, size) == headerLen, "MakeTrailer then ParseTrailer changed the length");
  return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t maxSize, unsigned int seed) {
  using namespace ds;
  constexpr size_t kNonce = crypto::kNonceSize, kTag = crypto::kTagSize;
  static crypto::Gcm gcm;
  const blob::Keys& keys = fuzz::TestKeys();
  if (seed % 4 == 0 || size < pack::kTrailerSize + pack::kHeaderOverhead) return LLVMFuzzerMutate(data, size, maxSize);
  uint32_t headerLen;
  try {
    headerLen = pack::ParseTrailer(data + size - pack::kTrailerSize, size);
  } catch (const Failure&) {
    return LLVMFuzzerMutate(data, size, maxSize);
  }
  const size_t headerAt = size - pack::kTrailerSize - headerLen;
  const uint8_t* h = data + headerAt;
  const size_t plainLen = headerLen - kNonce - kTag;
  std::vector<uint8_t> prefix(data, data + headerAt);
  std::vector<uint8_t> nonce(h, h + kNonce);
  if (maxSize < headerAt + kNonce + kTag + pack::kTrailerSize + 4) return LLVMFuzzerMutate(data, size, maxSize);
  const size_t room = maxSize - headerAt - kNonce - kTag - pack::kTrailerSize;
  std::vector<uint8_t> plain(std::max(room, plainLen));
  if (!gcm.Open(keys.data, h, reinterpret_cast<const uint8_t*>(pack::kHeaderAad), sizeof pack::kHeaderAad - 1,
                h + kNonce, plainLen, h + kNonce + plainLen, plain.data()))
    return LLVMFuzzerMutate(data, size, maxSize);
  size_t newLen;
  if (seed % 4 == 1 && !prefix.empty()) {
    // Mutate the blobs' bytes, keep the header: listed blobs then fail to authenticate or decode.
    newLen = plainLen;
    size_t n = LLVMFuzzerMutate(prefix.data(), prefix.size(), prefix.size());
    prefix.resize(n);
  } else {
    newLen = LLVMFuzzerMutate(plain.data(), plainLen, room);
    if (newLen < 4) newLen = 4;
    // Mostly keep count consistent with the length, so the entries get parsed.
    if (seed % 8 != 2 && (newLen - 4) % pack::kEntrySize == 0)
      pack::PutU32(plain.data(), static_cast<uint32_t>((newLen - 4) / pack::kEntrySize));
  }
  std::vector<uint8_t> out(prefix);
  out.insert(out.end(), nonce.begin(), nonce.end());
  size_t at = out.size();
  out.resize(at + newLen + kTag);
  gcm.Seal(keys.data, nonce.data(), reinterpret_cast<const uint8_t*>(pack::kHeaderAad), sizeof pack::kHeaderAad - 1,
           plain.data(), newLen, out.data() + at, out.data() + at + newLen);
  uint8_t trailer[pack::kTrailerSize];
  pack::MakeTrailer(static_cast<uint32_t>(kNonce + newLen + kTag), trailer);
  out.insert(out.end(), trailer, trailer + sizeof trailer);
  if (out.size() > maxSize) return LLVMFuzzerMutate(data, size, maxSize);
  std::memcpy(data, out.data(), out.size());
  return out.size();
}
