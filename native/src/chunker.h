// Content-defined chunking: FastCDC (Xia et al., USENIX ATC '16) with normalised chunking (level 1).
//
// A gear hash h = (h << 1) + G[byte] rolls over the data; a chunk ends at the first position where
// (h & mask) == 0, with a harder mask (more bits) before `avg` bytes and an easier one after it, which
// pulls chunk lengths towards avg. The first `min` bytes of a chunk are skipped without hashing (cut-point
// skipping: that is most of the speed), and a chunk never exceeds `max`. Because h depends only on the
// last 64 bytes, boundaries depend only on nearby content: an edit moves at most the boundaries near it.
//
// The gear table is a fixed function of a seed in chunker.cc, so every driveseed computes the same
// boundaries for the same bytes: dedup works across machines and releases. Changing the table or the
// masks changes every chunk id in every repository; that is a format change (docs/format-packs.md).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace ds {

struct ChunkerParams {
  uint64_t min = 512 * 1024;
  uint64_t avg = 1024 * 1024;
  uint64_t max = 8 * 1024 * 1024;
};

// Empty when p is acceptable (64 ≤ min < avg < max ≤ 1 GiB, avg a power of two ≥ 256), else the
// TypeError message, naming the fields as <name>.min etc.
std::string CheckChunkerParams(const ChunkerParams& p, const std::string& name);

// Streaming chunker over one byte stream (a file's data, holes excluded). Owned by one thread.
// Feed consecutive pieces of the stream of any size; buffer boundaries never change the result.
class Chunker {
 public:
  explicit Chunker(const ChunkerParams& p);
  // Scans data[0..len), the continuation of the current chunk. Returns how many bytes of it belong to
  // the current chunk and sets *cut when the chunk ends after them (the next chunk then starts at the
  // returned position). With *cut false, all len bytes were taken and the chunk goes on.
  size_t Scan(const uint8_t* data, size_t len, bool* cut);
  // Length of the current, unfinished chunk (the last chunk of a stream ends wherever the stream does).
  uint64_t pending() const { return pos_; }
  // Forget the current chunk: the next byte starts a new one (new file).
  void Reset() {
    pos_ = 0;
    hash_ = 0;
  }
  const ChunkerParams& params() const { return p_; }

 private:
  ChunkerParams p_;
  uint64_t maskS_, maskL_;
  uint64_t pos_ = 0;
  uint64_t hash_ = 0;
};

}  // namespace ds
