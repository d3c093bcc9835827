// md5_mb: the multi-buffer MD5 (md5_mb.cc: HashMany, HashBlocks, Md5Lanes) against OpenSSL's MD5
// (crypto::Md5), one message at a time, on arbitrary data cut into messages of arbitrary lengths.
// Input: message count (1..20), a block size, and per message a 16-bit length; the rest is the data
// the messages are cut from (they may overlap). The implementation is the one this process picked
// (DRIVESEED_MD5=scalar|avx2|avx512 caps it; scripts/fuzz.mjs runs this target once per level the
// CPU has). Checks: every digest equals OpenSSL's; Md5Lanes fed whole blocks then tails agrees too.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "crypto.h"
#include "fuzz_common.h"
#include "md5_mb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ds;
  if (size < 4) return 0;
  const size_t n = 1 + data[0] % 20;
  const size_t blockSize = 1 + (data[1] | data[2] << 8) % 4096;
  size_t hdr = 3 + 2 * n;
  if (size < hdr) return 0;
  const uint8_t* body = data + hdr;
  const size_t bodyLen = size - hdr;
  std::vector<const uint8_t*> ptrs(n);
  std::vector<size_t> lens(n);
  for (size_t i = 0; i < n; i++) {
    size_t want = data[3 + 2 * i] | data[4 + 2 * i] << 8;
    size_t len = bodyLen ? want % (bodyLen + 1) : 0;
    size_t start = bodyLen - len ? (want * 31 + i) % (bodyLen - len + 1) : 0;
    ptrs[i] = body + start;
    lens[i] = len;
  }
  uint8_t ref[md5::kDigestSize];

  std::vector<uint8_t> out(md5::kDigestSize * n);
  md5::HashMany(ptrs.data(), lens.data(), n, out.data());
  for (size_t i = 0; i < n; i++) {
    crypto::Md5(ptrs[i], lens[i], ref);
    FUZZ_CHECK(std::memcmp(ref, out.data() + 16 * i, 16) == 0, "HashMany: message %zu of %zu (%zu bytes, %s) differs",
               i, n, lens[i], simd::Name(md5::Active()));
  }

  const size_t blocks = bodyLen ? (bodyLen - 1) / blockSize + 1 : 0;
  std::vector<uint8_t> bout(md5::kDigestSize * blocks + 1);
  md5::HashBlocks(body, bodyLen, blockSize, bout.data());
  for (size_t b = 0; b < blocks; b++) {
    crypto::Md5(body + b * blockSize, std::min(blockSize, bodyLen - b * blockSize), ref);
    FUZZ_CHECK(std::memcmp(ref, bout.data() + 16 * b, 16) == 0, "HashBlocks: block %zu of %zu (size %zu) differs", b,
               blocks, blockSize);
  }

  // Md5Lanes: the first k messages fed in whole 64-byte blocks (as many as the shortest has), then tails.
  const size_t k = std::min(n, md5::kMaxLanes);
  size_t common = SIZE_MAX;
  for (size_t i = 0; i < k; i++) common = std::min(common, lens[i] / 64 * 64);
  common = std::min<size_t>(common, 64 * (data[0] >> 5));
  md5::Md5Lanes lanes(k);
  if (common) lanes.Update(ptrs.data(), common);
  std::vector<const uint8_t*> tails(k);
  std::vector<size_t> tailLens(k);
  for (size_t i = 0; i < k; i++) {
    tails[i] = ptrs[i] + common;
    tailLens[i] = lens[i] - common;
  }
  std::vector<uint8_t> lout(md5::kDigestSize * k);
  lanes.Final(tails.data(), tailLens.data(), lout.data());
  for (size_t i = 0; i < k; i++) {
    crypto::Md5(ptrs[i], lens[i], ref);
    FUZZ_CHECK(std::memcmp(ref, lout.data() + 16 * i, 16) == 0, "Md5Lanes: lane %zu of %zu (%zu bytes) differs", i, k,
               lens[i]);
  }
  return 0;
}
