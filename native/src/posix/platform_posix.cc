// Linux implementation of platform.h: O_DIRECT files and block devices, the O_EXCL + flock lock,
// sysfs serial numbers, errno names. Every function here may run on any thread.
// Why one file: it is the whole Linux side of platform.h, as platform_win32.cc is the Windows side.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "aligned.h"
#include "errors.h"
#include "platform.h"

namespace ds::platform {

namespace {

// A failure whose errno alone would mislead (EINVAL for a misaligned direct I/O, EBUSY for a claimed
// device): keep the errno and syscall as data, give the stable driveseed code and a message with the fix.
[[noreturn]] void Fail(const std::string& code, const char* syscall, int err, const std::string& path, int64_t offset,
                       const std::string& message) {
  NativeError e;
  e.code = code;
  e.syscall = syscall;
  e.errnum = err;
  e.path = path;
  e.offset = offset;
  e.message = message;
  throw Failure(std::move(e));
}

std::string ReadSmallFile(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) return {};
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string Trim(std::string s) {
  size_t b = 0, e = s.size();
  while (b < e && (static_cast<unsigned char>(s[b]) <= ' ')) b++;
  while (e > b && (static_cast<unsigned char>(s[e - 1]) <= ' ')) e--;
  return s.substr(b, e - b);
}

// SCSI VPD page 0x80 (unit serial number): 4-byte header, byte 3 = length, then ASCII.
std::string SerialFromVpd80(const std::string& raw) {
  if (raw.size() < 4) return {};
  size_t n = static_cast<unsigned char>(raw[3]);
  return Trim(raw.substr(4, std::min(n, raw.size() - 4)));
}

// sysfs directory of the whole disk behind a block device node (a partition's parent).
std::string DiskSysDir(dev_t rdev) {
  std::string dir = "/sys/dev/block/" + std::to_string(major(rdev)) + ":" + std::to_string(minor(rdev));
  char real[4096];
  if (!realpath(dir.c_str(), real)) return {};
  std::string d = real;
  struct stat st;
  if (stat((d + "/partition").c_str(), &st) == 0) d = d.substr(0, d.rfind('/'));
  return d;
}

void Identify(dev_t rdev, Geometry& g) {
  std::string d = DiskSysDir(rdev);
  if (d.empty()) return;
  // Loop, ram and device-mapper devices have no hardware behind them (and no device/ link).
  for (const char* src : {"/device/serial", "/serial", "/device/vpd_pg80", "/device/wwid"}) {
    std::string raw = ReadSmallFile(d + src);
    std::string s = std::strcmp(src, "/device/vpd_pg80") == 0 ? SerialFromVpd80(raw) : Trim(raw);
    if (!s.empty()) {
      g.serial = s;
      break;
    }
  }
  g.model = Trim(ReadSmallFile(d + "/device/model"));
}

class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string path, bool direct, Kind kind)
      : fd_(fd), path_(std::move(path)), direct_(direct), kind_(kind) {
    sector_ = geometry().logicalSectorSize;  // may throw: Open() then closes fd
    Counters::openTargets++;
  }
  ~PosixFile() override {
    ::close(fd_);  // also drops a flock taken on this descriptor and the O_EXCL claim
    Counters::openTargets--;
  }

  const std::string& path() const override { return path_; }
  bool direct() const override { return direct_; }

  Geometry geometry() override {
    Geometry g;
    g.kind = kind_;
    struct stat st;
    if (fstat(fd_, &st) != 0) ThrowSys("fstat", errno, path_);
    if (kind_ == Kind::BlockDevice) {
      uint64_t size = 0;
      int lss = 0;
      unsigned int pss = 0;
      if (ioctl(fd_, BLKGETSIZE64, &size) != 0) ThrowSys("ioctl(BLKGETSIZE64)", errno, path_);
      if (ioctl(fd_, BLKSSZGET, &lss) != 0) ThrowSys("ioctl(BLKSSZGET)", errno, path_);
      if (ioctl(fd_, BLKPBSZGET, &pss) != 0) ThrowSys("ioctl(BLKPBSZGET)", errno, path_);
      g.size = size;
      g.logicalSectorSize = static_cast<uint32_t>(lss);
      g.physicalSectorSize = pss ? pss : static_cast<uint32_t>(lss);
      Identify(st.st_rdev, g);
      return g;
    }
    g.size = static_cast<uint64_t>(st.st_size);
    uint32_t blk = st.st_blksize > 0 ? static_cast<uint32_t>(st.st_blksize) : 4096;
    g.logicalSectorSize = 4096;
    g.physicalSectorSize = blk < 4096 ? 4096 : blk;
#ifdef STATX_DIOALIGN
    // Linux ≥ 6.1 states the real direct I/O alignment of a file (ext4, xfs, btrfs, block devices).
    struct statx sx;
    if (statx(fd_, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 && (sx.stx_mask & STATX_DIOALIGN) &&
        sx.stx_dio_offset_align != 0) {
      g.logicalSectorSize = sx.stx_dio_offset_align;
      if (g.physicalSectorSize < g.logicalSectorSize) g.physicalSectorSize = g.logicalSectorSize;
    }
#endif
    return g;
  }

  Stamp stamp() override {
    struct stat st;
    if (fstat(fd_, &st) != 0) ThrowSys("fstat", errno, path_);
    Stamp s;
    s.size = static_cast<uint64_t>(st.st_size);
    s.mtimeNs = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    return s;
  }

  size_t pread(void* buf, size_t len, uint64_t off) override {
    size_t done = 0;
    while (done < len) {
      ssize_t n = ::pread(fd_, static_cast<uint8_t*>(buf) + done, len - done, static_cast<off_t>(off + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        IoError("pread", errno, static_cast<uint8_t*>(buf) + done, len - done, off + done);
      }
      if (n == 0) break;  // end of file
      done += static_cast<size_t>(n);
      // Under O_DIRECT a count that is not a whole number of sectors ends at the end of the file; asking
      // again from that unaligned position would fail with EINVAL on some filesystems instead of
      // returning 0.
      if (direct_ && done % sector_ != 0) break;
    }
    return done;
  }

  void readAhead(uint64_t off, uint64_t len) override {
    (void)posix_fadvise(fd_, static_cast<off_t>(off), static_cast<off_t>(len), POSIX_FADV_WILLNEED);
  }

  void pwrite(const void* buf, size_t len, uint64_t off) override {
    size_t done = 0;
    while (done < len) {
      ssize_t n = ::pwrite(fd_, static_cast<const uint8_t*>(buf) + done, len - done, static_cast<off_t>(off + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        IoError("pwrite", errno, static_cast<const uint8_t*>(buf) + done, len - done, off + done);
      }
      if (n == 0) ThrowSys("pwrite", ENOSPC, path_, static_cast<int64_t>(off + done));  // device end
      done += static_cast<size_t>(n);
    }
  }

  void truncate(uint64_t len) override {
    if (kind_ != Kind::File) ThrowCode("ERR_INTERNAL", "truncate called on block device " + path_, path_);
    while (ftruncate(fd_, static_cast<off_t>(len)) != 0)
      if (errno != EINTR) ThrowSys("ftruncate", errno, path_, static_cast<int64_t>(len));
  }

  void preallocate(uint64_t len) override {
    if (kind_ != Kind::File || len == 0) return;
    if (fallocate(fd_, FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(len)) == 0) return;
    int err = errno;
    if (err != EOPNOTSUPP && err != ENOSYS) ThrowSys("fallocate", err, path_);
    // No fallocate (ntfs-3g and other FUSE drivers): preallocation is a hint, so skip it. glibc's
    // posix_fallocate would emulate it by writing one byte per 4 KiB block, each a FUSE round trip:
    // measured 46-79 s for 301 MiB on ntfs-3g, against 0.87x dd for the same copy without it
    // (bench/RESULTS.md, "Prep and verify on loop devices").
  }

  void sync() override {
    while (fdatasync(fd_) != 0)
      if (errno != EINTR) ThrowSys("fdatasync", errno, path_);
  }

  std::vector<std::pair<uint64_t, uint64_t>> dataExtents(uint64_t size) override {
    std::vector<std::pair<uint64_t, uint64_t>> out;
    off_t pos = 0;
    const off_t end = static_cast<off_t>(size);
    while (pos < end) {
      off_t data = lseek(fd_, pos, SEEK_DATA);
      if (data < 0) {
        if (errno == ENXIO) break;                     // only a hole remains
        if (errno == EINVAL || errno == EOPNOTSUPP) {  // no SEEK_DATA here: everything is data
          out.clear();
          out.emplace_back(0, size);
          return out;
        }
        ThrowSys("lseek(SEEK_DATA)", errno, path_, pos);
      }
      if (data >= end) break;
      off_t hole = lseek(fd_, data, SEEK_HOLE);
      if (hole < 0) ThrowSys("lseek(SEEK_HOLE)", errno, path_, data);
      if (hole > end) hole = end;
      out.emplace_back(static_cast<uint64_t>(data), static_cast<uint64_t>(hole - data));
      pos = hole;
    }
    return out;
  }

  int fd() const { return fd_; }

 private:
  [[noreturn]] void IoError(const char* syscall, int err, const void* buf, size_t len, uint64_t off) {
    if (err == EINVAL && direct_) {
      Fail("ERR_ALIGNMENT", syscall, err, path_, static_cast<int64_t>(off),
           std::string(syscall) + " of " + std::to_string(len) + " bytes at offset " + std::to_string(off) + " on " +
               path_ + " was refused (EINVAL) under direct I/O: offset and length must be multiples of the " +
               std::to_string(sector_) +
               "-byte logical sector size and the buffer aligned (buffer address mod 4096 = " +
               std::to_string(reinterpret_cast<uintptr_t>(buf) % 4096) + ")");
    }
    ThrowSys(syscall, err, path_, static_cast<int64_t>(off));
  }

  int fd_;
  std::string path_;
  bool direct_;
  Kind kind_;
  uint32_t sector_ = 512;
};

// flock(LOCK_EX|LOCK_NB) on fd, or ERR_LOCKED naming the holder.
void FlockOrFail(int fd, const std::string& path) {
  while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    if (err == EINTR) continue;
    ::close(fd);
    if (err == EWOULDBLOCK)
      Fail("ERR_LOCKED", "flock", err, path, -1,
           path +
               " is locked by another driveseed process or handle (flock held); wait for it to finish, or stop it, "
               "then retry");
    ThrowSys("flock", err, path);
  }
}

[[noreturn]] void ClaimFailed(int err, const std::string& path) {
  Fail("ERR_LOCKED", "open", err, path, -1,
       path +
           " is busy (EBUSY): it is mounted, or claimed by another process (another driveseed, a filesystem, "
           "md or LVM); unmount every filesystem on it and stop the other user, then retry");
}

class PosixLock final : public Lock {
 public:
  explicit PosixLock(int fd) : fd_(fd) { Counters::heldLocks++; }
  ~PosixLock() override {
    ::close(fd_);  // releases the flock and the O_EXCL claim
    Counters::heldLocks--;
  }

 private:
  int fd_;
};

}  // namespace

std::unique_ptr<File> Open(const std::string& path, const OpenOptions& opts) {
  struct stat st;
  bool exists = ::stat(path.c_str(), &st) == 0;
  if (!exists && (errno != ENOENT || !opts.create)) ThrowSys("open", errno, path);
  Kind kind = exists && S_ISBLK(st.st_mode) ? Kind::BlockDevice : Kind::File;
  if (exists && !S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode))
    Fail(S_ISDIR(st.st_mode) ? "EISDIR" : "EINVAL", "open", S_ISDIR(st.st_mode) ? EISDIR : EINVAL, path, -1,
         path + " is neither a regular file nor a block device; give a file or a disk such as /dev/sdX");

  int flags = (opts.write ? O_RDWR : O_RDONLY) | O_CLOEXEC;
  if (opts.direct) flags |= O_DIRECT;
  if (kind == Kind::File) {
    if (opts.create) flags |= O_CREAT;
    if (opts.truncate && opts.write) flags |= O_TRUNC;
  } else if (opts.exclusive) {
    flags |= O_EXCL;  // the kernel's exclusive claim: EBUSY while mounted or claimed
  }
  int fd;
  do fd = ::open(path.c_str(), flags, 0644);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    int err = errno;
    if (err == EBUSY && kind == Kind::BlockDevice && opts.exclusive) ClaimFailed(err, path);
    if (err == EINVAL && opts.direct)
      Fail("EINVAL", "open", err, path, -1,
           "open of " + path +
               " with O_DIRECT failed (EINVAL): this filesystem does not support direct I/O (tmpfs?); "
               "use a file on ext4/xfs/NTFS or turn direct I/O off");
    ThrowSys("open", err, path);
  }
  if (opts.exclusive) FlockOrFail(fd, path);
  try {
    return std::make_unique<PosixFile>(fd, path, opts.direct, kind);
  } catch (...) {
    ::close(fd);
    throw;
  }
}

void RenameDurable(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) ThrowSys("rename", errno, to);
  std::string dir = to.find('/') == std::string::npos ? "." : to.substr(0, to.rfind('/'));
  if (dir.empty()) dir = "/";
  int fd;
  do fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) ThrowSys("open", errno, dir);
  int r = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (r != 0 && err != EINVAL) ThrowSys("fsync", err, dir);  // EINVAL: filesystems that cannot sync directories
}

std::unique_ptr<Lock> AcquireLock(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) ThrowSys("stat", errno, path);
  bool dev = S_ISBLK(st.st_mode);
  if (!dev && !S_ISREG(st.st_mode))
    Fail("EINVAL", "open", EINVAL, path, -1, path + " is neither a regular file nor a block device; nothing to lock");
  int fd;
  do fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (dev ? O_EXCL : 0));
  while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    if (errno == EBUSY && dev) ClaimFailed(errno, path);
    ThrowSys("open", errno, path);
  }
  FlockOrFail(fd, path);
  return std::make_unique<PosixLock>(fd);
}

std::string ErrorName(int err) {
  switch (err) {
#define DS_E(name) \
  case name:       \
    return #name;
    DS_E(EPERM)
    DS_E(ENOENT)
        DS_E(ESRCH) DS_E(EINTR) DS_E(EIO) DS_E(ENXIO) DS_E(E2BIG) DS_E(ENOEXEC) DS_E(EBADF) DS_E(ECHILD) DS_E(EAGAIN)
            DS_E(ENOMEM) DS_E(EACCES) DS_E(EFAULT) DS_E(ENOTBLK) DS_E(EBUSY) DS_E(EEXIST) DS_E(EXDEV) DS_E(ENODEV)
                DS_E(ENOTDIR) DS_E(EISDIR) DS_E(EINVAL) DS_E(ENFILE) DS_E(EMFILE) DS_E(ENOTTY) DS_E(ETXTBSY) DS_E(EFBIG)
                    DS_E(ENOSPC) DS_E(ESPIPE) DS_E(EROFS) DS_E(EMLINK) DS_E(EPIPE) DS_E(EDOM) DS_E(ERANGE) DS_E(EDEADLK)
                        DS_E(ENAMETOOLONG) DS_E(ENOLCK) DS_E(ENOSYS) DS_E(ENOTEMPTY) DS_E(ELOOP) DS_E(ENOMSG)
                            DS_E(EOVERFLOW) DS_E(EILSEQ) DS_E(ENOTSOCK) DS_E(EOPNOTSUPP) DS_E(ECONNREFUSED)
                                DS_E(ECONNRESET) DS_E(ETIMEDOUT) DS_E(EHOSTUNREACH) DS_E(EALREADY) DS_E(EINPROGRESS)
                                    DS_E(ESTALE) DS_E(EDQUOT) DS_E(ENOMEDIUM) DS_E(EMEDIUMTYPE) DS_E(ECANCELED)
                                        DS_E(ENODATA) DS_E(ENOTCONN) DS_E(EUCLEAN) DS_E(EREMOTEIO)
#undef DS_E
        // Aliases on Linux: EWOULDBLOCK == EAGAIN, ENOTSUP == EOPNOTSUPP, EDEADLOCK == EDEADLK.
        default : return "E" +
                  std::to_string(err);
  }
}

std::string ErrorText(int err) {
  char buf[256];
  // GNU strerror_r returns the message (maybe not in buf); thread-safe unlike strerror.
  return strerror_r(err, buf, sizeof buf);
}

void* AlignedAlloc(size_t size, size_t alignment) {
  if (alignment < sizeof(void*)) alignment = sizeof(void*);
  void* p = nullptr;
  return posix_memalign(&p, alignment, size ? size : alignment) == 0 ? p : nullptr;
}

void AlignedFree(void* p) { std::free(p); }

bool PrefaultWrite(void* p, size_t len) {
#ifdef MADV_POPULATE_WRITE
  // madvise takes a page-aligned start; the page that holds p is mapped, and no byte changes.
  static const uintptr_t kPage = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const size_t lead = reinterpret_cast<uintptr_t>(p) & (kPage - 1);
  return len == 0 || madvise(static_cast<uint8_t*>(p) - lead, len + lead, MADV_POPULATE_WRITE) == 0;
#else
  (void)p;
  (void)len;
  return false;
#endif
}

bool AdviseHugePages(void* p, size_t len) {
#ifdef MADV_HUGEPAGE
  uint8_t* const b = static_cast<uint8_t*>(p);
  const size_t lead = (kHugePage - (reinterpret_cast<uintptr_t>(b) & (kHugePage - 1))) & (kHugePage - 1);
  if (len <= lead) return false;
  const size_t span = (len - lead) & ~(kHugePage - 1);
  return span > 0 && madvise(b + lead, span, MADV_HUGEPAGE) == 0;
#else
  (void)p;
  (void)len;
  return false;
#endif
}

}  // namespace ds::platform
