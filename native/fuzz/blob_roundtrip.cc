// blob_roundtrip: blob::Codec::Encode then Decode on arbitrary content. Input: level byte, 4 bytes
// choosing a position to tamper with, then the chunk's content. Checks: the blob fits MaxBlobSize;
// zstd is used only when it is strictly shorter; Decode and DecodeTo return the content exactly;
// a capacity one byte short is ERR_TOO_LARGE; any single changed byte of the blob, or another id,
// is ERR_AUTH.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "blob.h"
#include "codec.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ds;
  if (size < 5) return 0;
  static blob::Codec codec;
  const blob::Keys& keys = fuzz::TestKeys();
  const int level = codec::kMinLevel + data[0] % (codec::kMaxLevel - codec::kMinLevel + 1);
  const uint32_t tamper = fuzz::ReadU32(data + 1);
  const uint8_t* raw = data + 5;
  const size_t len = size - 5;

  uint8_t id[blob::kIdSize];
  codec.Id(keys, raw, len, id);
  std::vector<uint8_t> b(blob::MaxBlobSize(len));
  uint8_t used = 0xFF;
  size_t n = codec.Encode(keys, id, raw, len, level, b.data(), &used);
  FUZZ_CHECK(n <= b.size(), "Encode wrote %zu bytes, MaxBlobSize is %zu", n, b.size());
  FUZZ_CHECK(used == blob::kCodecStored || used == blob::kCodecZstd, "codec byte %u", used);
  if (used == blob::kCodecZstd) FUZZ_CHECK(n < blob::kOverhead + len, "zstd blob not shorter than stored");
  if (used == blob::kCodecStored) FUZZ_CHECK(n == blob::kOverhead + len, "stored blob of %zu bytes", n);

  std::vector<uint8_t> out(len + 1);
  size_t m = codec.Decode(keys, id, b.data(), n, out.data(), len);
  FUZZ_CHECK(m == len && (len == 0 || std::memcmp(out.data(), raw, len) == 0), "Decode did not return the content");
  std::vector<uint8_t> vec;
  codec.DecodeTo(keys, id, b.data(), n, vec, len);
  FUZZ_CHECK(vec.size() == len && (len == 0 || std::memcmp(vec.data(), raw, len) == 0),
             "DecodeTo did not return the content");

  auto expectFailure = [&](const uint8_t* blobBytes, size_t blobLen, const uint8_t* useId, size_t cap, const char* code,
                           const char* what) {
    try {
      codec.Decode(keys, useId, blobBytes, blobLen, out.data(), cap);
    } catch (const Failure& f) {
      FUZZ_CHECK(f.error().code == code, "%s: expected %s, got %s (%s)", what, code, f.error().code.c_str(),
                 f.error().message.c_str());
      return;
    }
    FUZZ_CHECK(false, "%s: Decode succeeded, expected %s", what, code);
  };
  if (len > 0) expectFailure(b.data(), n, id, len - 1, "ERR_TOO_LARGE", "capacity one byte short");

  std::vector<uint8_t> t(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
  const uint8_t flip = static_cast<uint8_t>(tamper >> 24) | 1;
  t[(tamper & 0xFFFFFF) % n] ^= flip;
  expectFailure(t.data(), n, id, len, "ERR_AUTH", "one changed byte");
  uint8_t other[blob::kIdSize];
  std::memcpy(other, id, sizeof other);
  other[tamper % blob::kIdSize] ^= flip;
  expectFailure(b.data(), n, other, len, "ERR_AUTH", "another id");
  return 0;
}
