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

// One directory's listing in C++ memory: what listDir returns, before it becomes JS values.
struct Listing {
  std::vector<std::string> names;
  std::vector<std::string> invalid;
  std::vector<uint64_t> fields;
};

// Any thread: lists `dir` (throws a Failure {code, syscall: 'scandir', path} as readdirSync would).
Listing Scan(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) ThrowSys("scandir", errno, dir);
  DIR* d = fdopendir(fd);
  if (!d) {
    int e = errno;
    close(fd);
    ThrowSys("scandir", e, dir);
  }
  Listing out;
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
      out.invalid.emplace_back(n, len);
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
    out.names.emplace_back(n, len);
    out.fields.insert(out.fields.end(), f, f + kFields);
  }
  closedir(d);
  return out;
}

// JS thread: the listing as { names, stats, invalid }.
Napi::Object ToJs(Napi::Env env, const Listing& l) {
  Napi::Array jsNames = Napi::Array::New(env, l.names.size());
  for (size_t i = 0; i < l.names.size(); i++) jsNames.Set(i, Napi::String::New(env, l.names[i]));
  Napi::Array jsInvalid = Napi::Array::New(env, l.invalid.size());
  for (size_t i = 0; i < l.invalid.size(); i++)
    jsInvalid.Set(i, Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(l.invalid[i].data()),
                                                 l.invalid[i].size()));
  const size_t bytes = l.fields.size() * sizeof(uint64_t);
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, bytes);
  if (bytes) memcpy(ab.Data(), l.fields.data(), bytes);
  napi_value stats;
  if (napi_create_typedarray(env, napi_biguint64_array, l.fields.size(), ab, 0, &stats) != napi_ok)
    ThrowCode("ERR_INTERNAL", "napi_create_typedarray failed in listDir; please report");
  Napi::Object out = Napi::Object::New(env);
  out.Set("names", jsNames);
  out.Set("stats", Napi::Value(env, stats));
  out.Set("invalid", jsInvalid);
  return out;
}

// JS thread: listDir(path) → { names, stats, invalid }. names: the entries whose names are valid UTF-8,
// in directory order; stats: kFields per name (errno 0, or the errno of that entry's fstatat and the
// rest 0); invalid: the raw names that are not UTF-8. Throws {code, syscall: 'scandir', path} when the
// directory cannot be opened or read, as readdirSync does.
Napi::Value ListDir(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string dir = args::GetString(env, info[0], "path");
  return args::Guard(env, [&]() -> Napi::Value { return ToJs(env, Scan(dir)); });
}

// listDirAsync: the same listing on the libuv pool, so that the walker can list the directories it
// will visit next while it works through the current one.
class ListDirWorker : public Napi::AsyncWorker {
 public:
  ListDirWorker(Napi::Env env, std::string dir)
      : Napi::AsyncWorker(env, "driveseed.listDir"),
        deferred_(Napi::Promise::Deferred::New(env)),
        dir_(std::move(dir)) {}
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  // libuv pool thread.
  void Execute() override {
    try {
      listing_ = Scan(dir_);
    } catch (const Failure& f) {
      err_ = f.error();
      SetError(err_.message);
    } catch (const std::bad_alloc&) {
      err_.code = "ENOMEM";
      err_.message = "Out of memory listing " + dir_;
      SetError(err_.message);
    }
  }
  // JS thread.
  void OnOK() override {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(ToJs(env, listing_));
    } catch (const Failure& f) {
      deferred_.Reject(ToJsError(env, f.error()).Value());
    }
    listing_ = Listing();
  }
  // JS thread.
  void OnError(const Napi::Error&) override { deferred_.Reject(ToJsError(Env(), err_).Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::string dir_;
  Listing listing_;
  NativeError err_;
};

// JS thread: listDirAsync(path) → Promise of what listDir(path) returns (rejects as listDir throws).
Napi::Value ListDirAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string dir = args::GetString(env, info[0], "path");
  auto* w = new ListDirWorker(env, dir);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace

void InitDirScan(Napi::Env env, Napi::Object exports) {
  exports.Set("listDir", Napi::Function::New(env, ListDir, "listDir"));
  exports.Set("listDirAsync", Napi::Function::New(env, ListDirAsync, "listDirAsync"));
  exports.Set("listDirFields", Napi::Number::New(env, kFields));
}

}  // namespace ds
