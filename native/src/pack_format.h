// Pack file layout (docs/format-packs.md §Pack). A pack is
//
//   blob_0 || blob_1 || … || blob_{n-1} || header || trailer
//
//   header  = nonce(12) || AES-256-GCM(dataKey, nonce, plain, aad = kHeaderAad) || tag(16)
//   plain   = count(u32 LE) || entry_0 || … || entry_{n-1}
//   entry   = id(32) || offset(u64 LE) || length(u32 LE) || rawLength(u32 LE)            48 bytes
//   trailer = headerLength(u32 LE) || "DSPK" || version(u32 LE)                         12 bytes
//
// The pack's name is Name(size, blockSize, block MD5s) below; it lives at <packDir>/<name[0..2]>/<name>.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "blob.h"
#include "crypto.h"
#include "errors.h"

namespace ds::pack {

constexpr uint32_t kVersion = 1;
constexpr char kMagic[4] = {'D', 'S', 'P', 'K'};
constexpr size_t kTrailerSize = 12;
constexpr size_t kEntrySize = 48;
constexpr char kHeaderAad[] = "driveseed pack header v1";
constexpr size_t kHeaderOverhead = crypto::kNonceSize + 4 + crypto::kTagSize;

// A pack's content name (docs/format-packs.md §Naming): lowercase hex SHA-256 of
//   size(u64 LE) || blockSize(u64 LE) || MD5(block 0) || … || MD5(block n-1)
// over the file's blockSize blocks (the last may be short). The block MD5s are computed anyway for the
// drive manifest, so the name costs no second pass over the data; any changed byte changes a block MD5.
inline std::string Name(uint64_t size, uint64_t blockSize, const std::string& blockMd5) {
  std::string in(16, '\0');
  for (int i = 0; i < 8; i++) {
    in[i] = static_cast<char>(size >> (8 * i));
    in[8 + i] = static_cast<char>(blockSize >> (8 * i));
  }
  in += blockMd5;
  uint8_t d[crypto::kSha256Size];
  crypto::Sha256(in.data(), in.size(), d);
  return crypto::Hex(d, sizeof d);
}

struct Entry {
  uint8_t id[blob::kIdSize];
  uint64_t offset;
  uint32_t length;     // blob bytes in the pack
  uint32_t rawLength;  // chunk bytes after decoding
};

inline void PutU32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void PutU64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint32_t GetU32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}
inline uint64_t GetU64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

// The encrypted header for entries (fresh random nonce).
inline std::vector<uint8_t> SealHeader(const std::vector<Entry>& entries, const uint8_t dataKey[crypto::kKeySize],
                                       crypto::Gcm& gcm) {
  size_t plainLen = 4 + kEntrySize * entries.size();
  std::vector<uint8_t> out(crypto::kNonceSize + plainLen + crypto::kTagSize);
  uint8_t* plain = out.data() + crypto::kNonceSize;
  PutU32(plain, static_cast<uint32_t>(entries.size()));
  uint8_t* p = plain + 4;
  for (const Entry& e : entries) {
    std::memcpy(p, e.id, blob::kIdSize);
    PutU64(p + 32, e.offset);
    PutU32(p + 40, e.length);
    PutU32(p + 44, e.rawLength);
    p += kEntrySize;
  }
  crypto::RandomBytes(out.data(), crypto::kNonceSize);
  gcm.Seal(dataKey, out.data(), reinterpret_cast<const uint8_t*>(kHeaderAad), sizeof kHeaderAad - 1, plain, plainLen,
           plain, plain + plainLen);
  return out;
}

inline void MakeTrailer(uint32_t headerLen, uint8_t out[kTrailerSize]) {
  PutU32(out, headerLen);
  std::memcpy(out + 4, kMagic, 4);
  PutU32(out + 8, kVersion);
}

// Returns the header length, or throws ERR_CORRUPT naming what is wrong (path/offset added by callers).
inline uint32_t ParseTrailer(const uint8_t t[kTrailerSize], uint64_t fileSize) {
  if (std::memcmp(t + 4, kMagic, 4) != 0)
    ThrowCode("ERR_CORRUPT", "pack trailer has no DSPK magic (not a driveseed pack, or truncated)");
  uint32_t version = GetU32(t + 8);
  if (version != kVersion)
    ThrowCode("ERR_CORRUPT", "pack format version " + std::to_string(version) +
                                 " is not supported (this driveseed reads version " + std::to_string(kVersion) +
                                 "); upgrade driveseed");
  uint32_t headerLen = GetU32(t);
  if (headerLen < kHeaderOverhead || headerLen > fileSize - kTrailerSize ||
      (headerLen - kHeaderOverhead) % kEntrySize != 0)
    ThrowCode("ERR_CORRUPT",
              "pack trailer states an impossible header length of " + std::to_string(headerLen) + " bytes");
  return headerLen;
}

// Decrypts and parses a header read from the file. Throws ERR_AUTH or ERR_CORRUPT.
inline std::vector<Entry> OpenHeader(const uint8_t* h, size_t len, const uint8_t dataKey[crypto::kKeySize],
                                     crypto::Gcm& gcm) {
  size_t plainLen = len - crypto::kNonceSize - crypto::kTagSize;
  std::vector<uint8_t> plain(plainLen);
  if (!gcm.Open(dataKey, h, reinterpret_cast<const uint8_t*>(kHeaderAad), sizeof kHeaderAad - 1, h + crypto::kNonceSize,
                plainLen, h + len - crypto::kTagSize, plain.data()))
    ThrowCode("ERR_AUTH", "pack header failed AES-GCM authentication (tampered, or another repository's key)");
  uint32_t count = GetU32(plain.data());
  if (static_cast<size_t>(count) * kEntrySize + 4 != plainLen)
    ThrowCode("ERR_CORRUPT", "pack header count " + std::to_string(count) + " does not match its length");
  std::vector<Entry> entries(count);
  const uint8_t* p = plain.data() + 4;
  for (Entry& e : entries) {
    std::memcpy(e.id, p, blob::kIdSize);
    e.offset = GetU64(p + 32);
    e.length = GetU32(p + 40);
    e.rawLength = GetU32(p + 44);
    p += kEntrySize;
  }
  return entries;
}

// Something wrong with where a header puts its blobs: a byte range of the pack and what is wrong there.
struct LayoutProblem {
  uint64_t offset, length;
  std::string message;
};

// A header's blobs must lie back to back from offset 0 up to the header, which starts at headerAt and
// is headerLen bytes long. Returns what is wrong (nothing when they do); verifyPacksJob reports each.
inline std::vector<LayoutProblem> CheckLayout(const std::vector<Entry>& header, uint64_t headerAt, uint32_t headerLen) {
  std::vector<LayoutProblem> problems;
  uint64_t expect = 0;
  for (const Entry& e : header) {
    if (e.offset != expect) {
      problems.push_back({headerAt, headerLen,
                          "pack header lists a blob at offset " + std::to_string(e.offset) + " where " +
                              std::to_string(expect) + " was expected"});
      break;
    }
    expect += e.length;
  }
  if (expect != headerAt)
    problems.push_back({expect, headerAt > expect ? headerAt - expect : 0,
                        "the pack's blobs end at " + std::to_string(expect) + " but its header starts at " +
                            std::to_string(headerAt) + " (pack length does not match its entries)"});
  return problems;
}

}  // namespace ds::pack
