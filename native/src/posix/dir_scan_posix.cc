// listDir: one directory's entries with their lstat fields in one call (binding.d.ts "listDir").
//
// The source walker needs, for every entry, its name and size, mode, owner, link count, device, inode
// and the two timestamps in nanoseconds. Node's readdirSync + one lstatSync per entry costs ~3.6 µs an
// entry here (a full path resolved per call, a Stats object per entry); readdir + fstatat relative to
// the directory's descriptor costs ~1.5 µs. The result is one BigUint64Array of fields (no object per
// entry) and the names; the walker builds its per-entry objects lazily.
//
// Runs on the JS thread, like readdirSync (the walker is synchronous by design: see src/repo/walker.ts).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "../errors.h"
#include "../modules.h"
#include "../spec_args.h"

namespace ds {

namespace {

// Fields per entry, in this order (binding.d.ts LIST_DIR_FIELDS mirrors it).
enum Field { kErrno, kMode, kUid, kGid, kNlink, kSize, kDev, kIno, kMtimeNs, kCtimeNs, kFields };

// Strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF): exactly the byte strings that
// survive a round trip through a JS string, which is what the walker requires of a name.
bool ValidUtf8(const unsigned char* s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return false;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

// Nanoseconds since the epoch as the two's complement bits of an int64 (negative before 1970): the
// walker reads the times back with BigInt.asIntN(64, …).
uint64_t Ns(const struct timespec& t) {
  return static_cast<uint64_t>(static_cast<int64_t>(t.tv_sec) * 1000000000LL + t.tv_nsec);
}

// JS thread: listDir(path) → { names, stats, invalid }. names: the entries whose names are valid UTF-8,
// in directory order; stats: kFields per name (errno 0, or the errno of that entry's fstatat and the
// rest 0); invalid: the raw names that are not UTF-8. Throws {code, syscall: 'scandir', path} when the
// directory cannot be opened or read, as readdirSync does.
Napi::Value ListDir(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string dir = args::GetString(env, info[0], "path");
  return args::Guard(env, [&]() -> Napi::Value {
    int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) ThrowSys("scandir", errno, dir);
    DIR* d = fdopendir(fd);
    if (!d) {
      int e = errno;
      close(fd);
      ThrowSys("scandir", e, dir);
    }
    std::vector<std::string> names;
    std::vector<std::string> invalid;
    std::vector<uint64_t> fields;
    for (;;) {
      errno = 0;
      struct dirent* e = readdir(d);  // NOLINT(concurrency-mt-unsafe): this DIR is private to the call
      if (!e) {
        int err = errno;
        if (err != 0) {
          closedir(d);
          ThrowSys("scandir", err, dir);
        }
        break;
      }
      const char* n = e->d_name;
      if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0))) continue;
      const size_t len = strlen(n);
      if (!ValidUtf8(reinterpret_cast<const unsigned char*>(n), len)) {
        invalid.emplace_back(n, len);
        continue;
      }
      uint64_t f[kFields] = {};
      struct stat st;
      if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        f[kErrno] = static_cast<uint64_t>(errno);
      } else {
        f[kMode] = st.st_mode;
        f[kUid] = st.st_uid;
        f[kGid] = st.st_gid;
        f[kNlink] = st.st_nlink;
        f[kSize] = static_cast<uint64_t>(st.st_size);
        f[kDev] = st.st_dev;
        f[kIno] = st.st_ino;
        f[kMtimeNs] = Ns(st.st_mtim);
        f[kCtimeNs] = Ns(st.st_ctim);
      }
      names.emplace_back(n, len);
      fields.insert(fields.end(), f, f + kFields);
    }
    closedir(d);

    Napi::Array jsNames = Napi::Array::New(env, names.size());
    for (size_t i = 0; i < names.size(); i++) jsNames.Set(i, Napi::String::New(env, names[i]));
    Napi::Array jsInvalid = Napi::Array::New(env, invalid.size());
    for (size_t i = 0; i < invalid.size(); i++)
      jsInvalid.Set(
          i, Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(invalid[i].data()), invalid[i].size()));
    const size_t bytes = fields.size() * sizeof(uint64_t);
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, bytes);
    if (bytes) memcpy(ab.Data(), fields.data(), bytes);
    napi_value stats;
    if (napi_create_typedarray(env, napi_biguint64_array, fields.size(), ab, 0, &stats) != napi_ok)
      ThrowCode("ERR_INTERNAL", "napi_create_typedarray failed in listDir; please report");
    Napi::Object out = Napi::Object::New(env);
    out.Set("names", jsNames);
    out.Set("stats", Napi::Value(env, stats));
    out.Set("invalid", jsInvalid);
    return out;
  });
}

}  // namespace

void InitDirScan(Napi::Env env, Napi::Object exports) {
  exports.Set("listDir", Napi::Function::New(env, ListDir, "listDir"));
  exports.Set("listDirFields", Napi::Number::New(env, kFields));
}

}  // namespace ds
