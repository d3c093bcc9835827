// chunker: ds::Chunker (FastCDC) on arbitrary bytes with arbitrary valid parameters. Input: 8 bytes
// choosing min/avg/max (small, so a short input has many chunks) and the piece sizes the stream is fed
// in, then the stream. Checks: the chunks cover the stream exactly; every chunk but the last is
// within [min, max] and the last within [1, max]; pending() is the unfinished chunk's length; feeding
// the stream in other pieces gives the same boundaries; and chunking from any boundary on gives the
// same later boundaries (they depend only on the content since the chunk's start).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "chunker.h"
#include "fuzz_common.h"

namespace {

// Chunk lengths of data[0..len), fed in pieces whose sizes cycle through `pieces` (0 = all at once).
std::vector<uint64_t> Lengths(const ds::ChunkerParams& p, const uint8_t* data, size_t len,
                              const std::vector<size_t>& pieces) {
  ds::Chunker ch(p);
  std::vector<uint64_t> out;
  size_t pos = 0, k = 0;
  uint64_t cur = 0;
  while (pos < len) {
    size_t piece = pieces.empty() ? len - pos : std::min(len - pos, pieces[k++ % pieces.size()]);
    size_t fed = 0;
    while (fed < piece) {
      bool cut = false;
      size_t n = ch.Scan(data + pos + fed, piece - fed, &cut);
      FUZZ_CHECK(n <= piece - fed, "Scan took %zu of %zu bytes", n, piece - fed);
      FUZZ_CHECK(cut || n == piece - fed, "Scan stopped after %zu of %zu bytes without a cut", n, piece - fed);
      fed += n;
      cur += n;
      if (cut) {
        FUZZ_CHECK(ch.pending() == 0, "pending() is %llu right after a cut", (unsigned long long)ch.pending());
        out.push_back(cur);
        cur = 0;
      } else {
        FUZZ_CHECK(ch.pending() == cur, "pending() is %llu, the chunk so far is %llu", (unsigned long long)ch.pending(),
                   (unsigned long long)cur);
      }
    }
    pos += piece;
  }
  if (cur) out.push_back(cur);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  ds::ChunkerParams p;
  const unsigned avgBits = 8 + data[0] % 5;  // avg 256 .. 4 KiB
  p.avg = 1ULL << avgBits;
  p.min = 64 + (data[1] | data[2] << 8) % (p.avg - 64);
  p.max = p.avg + 1 + (data[3] | data[4] << 8) % (4 * p.avg);
  FUZZ_CHECK(ds::CheckChunkerParams(p, "p").empty(), "parameters %llu/%llu/%llu rejected: %s",
             (unsigned long long)p.min, (unsigned long long)p.avg, (unsigned long long)p.max,
             ds::CheckChunkerParams(p, "p").c_str());
  std::vector<size_t> pieces = {static_cast<size_t>(data[5]) + 1, static_cast<size_t>(data[6]) * 7 + 1,
                                static_cast<size_t>(data[7]) % 3 + 1};
  const uint8_t* s = data + 8;
  const size_t len = size - 8;

  std::vector<uint64_t> whole = Lengths(p, s, len, {});
  uint64_t sum = 0;
  for (size_t i = 0; i < whole.size(); i++) {
    const bool last = i + 1 == whole.size();
    FUZZ_CHECK(whole[i] <= p.max && whole[i] >= (last ? 1 : p.min),
               "chunk %zu of %zu is %llu bytes (min %llu, max %llu)", i, whole.size(), (unsigned long long)whole[i],
               (unsigned long long)p.min, (unsigned long long)p.max);
    sum += whole[i];
  }
  FUZZ_CHECK(sum == len, "chunks cover %llu of %zu bytes", (unsigned long long)sum, len);

  FUZZ_CHECK(Lengths(p, s, len, pieces) == whole, "feeding the stream in pieces moved a boundary");
  if (whole.size() > 1) {
    std::vector<uint64_t> rest = Lengths(p, s + whole[0], len - whole[0], {});
    FUZZ_CHECK(std::equal(rest.begin(), rest.end(), whole.begin() + 1, whole.end()),
               "chunking from the first boundary on moved a later boundary");
  }
  return 0;
}
