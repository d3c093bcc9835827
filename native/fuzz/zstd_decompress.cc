// zstd_decompress: codec::Decompressor on arbitrary bytes (what zstdDecompress in util_fns.cc and the
// blob decoder feed it). Input: 2 bytes of capacity (0 .. 64 KiB - 1), then the compressed data.
// Checks: Decompress (fixed buffer) and DecompressTo (growing vector) agree on success, bytes and
// error code, unless zstd itself shows both outcomes true (fuzz_common.h, ZstdJustifies); neither returns more than the
// capacity; errors are only ERR_CORRUPT or ERR_TOO_LARGE; and the contexts stay usable after an error (a reference
// frame decodes right after).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "codec.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ds;
  if (size < 2) return 0;
  static codec::Compressor zc;
  static codec::Decompressor zd1, zd2;
  const size_t cap = data[0] | data[1] << 8;
  const uint8_t* src = data + 2;
  const size_t len = size - 2;

  std::vector<uint8_t> fixed(cap + 1);
  std::string code1, code2;
  size_t n = 0;
  try {
    n = zd1.Decompress(fixed.data(), cap, src, len, "input");
    FUZZ_CHECK(n <= cap, "Decompress returned %zu bytes, capacity %zu", n, cap);
  } catch (const Failure& f) {
    fuzz::ExpectCode(f, {"ERR_CORRUPT", "ERR_TOO_LARGE"}, "Decompress");
    code1 = f.error().code;
  }
  std::vector<uint8_t> vec;
  try {
    zd2.DecompressTo(vec, cap, src, len, "input");
    FUZZ_CHECK(vec.size() <= cap, "DecompressTo returned %zu bytes, maximum %zu", vec.size(), cap);
  } catch (const Failure& f) {
    fuzz::ExpectCode(f, {"ERR_CORRUPT", "ERR_TOO_LARGE"}, "DecompressTo");
    code2 = f.error().code;
  }
  if (code1 != code2)
    FUZZ_CHECK(fuzz::ZstdJustifies(src, len, cap, code1) && fuzz::ZstdJustifies(src, len, cap, code2),
               "Decompress says '%s' but DecompressTo says '%s' (capacity %zu)", code1.c_str(), code2.c_str(), cap);
  if (code1.empty() && code2.empty())
    FUZZ_CHECK(vec.size() == n && (n == 0 || std::memcmp(vec.data(), fixed.data(), n) == 0),
               "Decompress and DecompressTo return different bytes (%zu vs %zu)", n, vec.size());

  // Both contexts still decode a good frame after whatever happened above.
  static const std::vector<uint8_t> ref = [] {
    std::vector<uint8_t> r(4096);
    for (size_t i = 0; i < r.size(); i++) r[i] = static_cast<uint8_t>(i % 251);
    return r;
  }();
  static std::vector<uint8_t> frame;
  if (frame.empty()) {
    frame.resize(codec::Bound(ref.size()));
    frame.resize(zc.Compress(frame.data(), frame.size(), ref.data(), ref.size(), 3));
  }
  std::vector<uint8_t> back(ref.size());
  FUZZ_CHECK(
      zd1.Decompress(back.data(), back.size(), frame.data(), frame.size(), "reference") == ref.size() && back == ref,
      "Decompress fails on a good frame after this input");
  zd2.DecompressTo(back, ref.size(), frame.data(), frame.size(), "reference");
  FUZZ_CHECK(back == ref, "DecompressTo fails on a good frame after this input");
  return 0;
}
