// Writes the seed corpora (native/fuzz/corpus/<target>/) with the product's own encoders, so every
// seed is a valid input of the current formats: `node scripts/fuzz.mjs --make-seeds` builds and runs
// this. Usage: make_seeds <corpus dir>. Nonces are random, so the bytes differ from run to run.
#include <zstd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "blob.h"
#include "codec.h"
#include "fuzz_common.h"
#include "pack_format.h"

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;
using namespace ds;

fs::path gRoot;

void Write(const std::string& target, const std::string& name, const Bytes& b) {
  fs::create_directories(gRoot / target);
  std::FILE* f = std::fopen((gRoot / target / name).c_str(), "wb");
  if (!f || (!b.empty() && std::fwrite(b.data(), 1, b.size(), f) != b.size()) || std::fclose(f) != 0) {
    std::perror(name.c_str());
    std::exit(1);
  }
}

Bytes Text(const std::string& s) { return Bytes(s.begin(), s.end()); }
Bytes Noise(size_t n, uint32_t seed) {
  Bytes b(n);
  for (auto& c : b) {
    seed = seed * 1664525u + 1013904223u;
    c = static_cast<uint8_t>(seed >> 24);
  }
  return b;
}
Bytes Repeat(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; i++) b[i] = static_cast<uint8_t>("driveseed "[i % 10]);
  return b;
}
Bytes Cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// id || blob of raw, as blob_decode reads it.
Bytes IdBlob(blob::Codec& c, const Bytes& raw) {
  const blob::Keys& k = fuzz::TestKeys();
  Bytes out(blob::kIdSize + blob::MaxBlobSize(raw.size()));
  c.Id(k, raw.data(), raw.size(), out.data());
  size_t n = c.Encode(k, out.data(), raw.data(), raw.size(), 3, out.data() + blob::kIdSize);
  out.resize(blob::kIdSize + n);
  return out;
}

Bytes Frame(const Bytes& raw, bool withSize) {
  ZSTD_CCtx* z = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(z, ZSTD_c_contentSizeFlag, withSize ? 1 : 0);
  ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, withSize ? 0 : 1);
  Bytes out(ZSTD_compressBound(raw.size()));
  if (withSize) {
    out.resize(ZSTD_compress2(z, out.data(), out.size(), raw.data(), raw.size()));
  } else {  // streamed: the frame header states no content size
    ZSTD_inBuffer in{raw.data(), raw.size(), 0};
    ZSTD_outBuffer ob{out.data(), out.size(), 0};
    while (ZSTD_compressStream2(z, &ob, &in, ZSTD_e_end) != 0) {
    }
    out.resize(ob.pos);
  }
  ZSTD_freeCCtx(z);
  return out;
}

// A pack of the given chunks, as packJob writes it.
Bytes Pack(blob::Codec& c, const std::vector<Bytes>& chunks) {
  const blob::Keys& k = fuzz::TestKeys();
  Bytes file;
  std::vector<pack::Entry> entries;
  for (const Bytes& raw : chunks) {
    pack::Entry e{};
    c.Id(k, raw.data(), raw.size(), e.id);
    Bytes b(blob::MaxBlobSize(raw.size()));
    b.resize(c.Encode(k, e.id, raw.data(), raw.size(), 3, b.data()));
    e.offset = file.size();
    e.length = static_cast<uint32_t>(b.size());
    e.rawLength = static_cast<uint32_t>(raw.size());
    entries.push_back(e);
    file = Cat(file, b);
  }
  crypto::Gcm gcm;
  Bytes header = pack::SealHeader(entries, k.data, gcm);
  uint8_t trailer[pack::kTrailerSize];
  pack::MakeTrailer(static_cast<uint32_t>(header.size()), trailer);
  file = Cat(file, header);
  return Cat(file, Bytes(trailer, trailer + sizeof trailer));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds <corpus dir>\n");
    return 2;
  }
  gRoot = argv[1];
  blob::Codec c;
  const std::vector<Bytes> contents = {Bytes{}, Text("hello"), Repeat(1000), Noise(300, 1),
                                       Cat(Repeat(200), Noise(200, 2))};
  for (size_t i = 0; i < contents.size(); i++) {
    Bytes ib = IdBlob(c, contents[i]);
    Write("blob_decode", "seed-" + std::to_string(i), ib);
    Write("blob_resealed", "seed-" + std::to_string(i), ib);
    Write("blob_roundtrip", "seed-" + std::to_string(i),
          Cat(Bytes{static_cast<uint8_t>(i * 4), 7, 0, 0, 0x80}, contents[i]));
  }
  Write("chunker", "seed-noise", Cat(Bytes{0, 200, 0, 100, 0, 16, 3, 1}, Noise(3000, 3)));
  Write("chunker", "seed-repeat", Cat(Bytes{2, 0, 1, 0, 2, 255, 0, 0}, Repeat(5000)));
  Write("chunker", "seed-mixed", Cat(Bytes{4, 17, 0, 255, 255, 1, 1, 2}, Cat(Noise(2000, 4), Repeat(2000))));
  const Bytes cap64k{0xFF, 0xFF};
  Write("zstd_decompress", "seed-sized", Cat(cap64k, Frame(Repeat(3000), true)));
  Write("zstd_decompress", "seed-streamed", Cat(cap64k, Frame(Cat(Noise(500, 5), Repeat(3000)), false)));
  Write("zstd_decompress", "seed-two-frames", Cat(cap64k, Cat(Frame(Repeat(100), true), Frame(Noise(100, 6), false))));
  Bytes skippable{0x50, 0x2A, 0x4D, 0x18, 4, 0, 0, 0, 1, 2, 3, 4};
  Write("zstd_decompress", "seed-skippable", Cat(cap64k, Cat(skippable, Frame(Text("after a skippable frame"), true))));
  Write("zstd_decompress", "seed-empty-frame", Cat(Bytes{0, 0}, Frame(Bytes{}, true)));
  Write("zstd_decompress", "seed-small-cap", Cat(Bytes{100, 0}, Frame(Repeat(3000), true)));
  Write("pack_index", "seed-empty", Pack(c, {}));
  Write("pack_index", "seed-one", Pack(c, {Text("hello")}));
  Write("pack_index", "seed-three", Pack(c, {Repeat(500), Noise(100, 7), Bytes{}}));
  Write("md5_mb", "seed-blocks", Cat(Bytes{0x43, 64, 0, 0, 1, 100, 0, 0, 2}, Noise(1000, 8)));
  Write("md5_mb", "seed-lanes",
        Cat(Bytes{0xF0 | 15, 0, 1, 0, 4,  1, 4,  2, 4,  3, 4,  4, 4,  5, 4,  6, 4,  7, 4,
                  8,         4, 9, 4, 10, 4, 11, 4, 12, 4, 13, 4, 14, 4, 15, 4, 16, 4},
            Noise(2048, 9)));
  return 0;
}
