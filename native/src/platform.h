// The one interface between the data plane and the operating system (CONTRIBUTING.md, "Native code").
// Implemented in posix/platform_posix.cc and win32/platform_win32.cc; nothing else includes OS headers.
// All functions are safe to call from any thread; failures throw ds::Failure.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ds::platform {

enum class Kind { File, BlockDevice };

struct OpenOptions {
  bool write = false;
  bool create = false;     // create a regular file if missing (never for devices)
  bool truncate = false;   // truncate an existing regular file to 0 first
  bool direct = true;      // O_DIRECT / FILE_FLAG_NO_BUFFERING|FILE_FLAG_WRITE_THROUGH
  bool exclusive = false;  // Linux: O_EXCL on block devices + flock(LOCK_EX|LOCK_NB); Windows: share mode 0
};

struct Geometry {
  Kind kind = Kind::File;
  uint32_t logicalSectorSize = 512;    // bytes; required alignment of offsets/lengths/buffers under direct I/O
  uint32_t physicalSectorSize = 4096;  // bytes; preferred alignment
  uint64_t size = 0;                   // bytes: device capacity or current file length
  std::string serial;                  // hardware serial, empty when the OS has none (files, loop devices)
  std::string model;                   // empty when unknown
};

// What a reader compares before and after reading a file to notice that it changed meanwhile.
struct Stamp {
  uint64_t size = 0;    // bytes
  int64_t mtimeNs = 0;  // last modification (POSIX: st_mtim in ns; Windows: ftLastWriteTime × 100)
};

// An open file or device. Positional I/O only, so one File may be shared by many threads.
class File {
 public:
  virtual ~File() = default;  // closes; releases any lock taken at open
  virtual const std::string& path() const = 0;
  virtual bool direct() const = 0;
  virtual Geometry geometry() = 0;
  // Size and modification time of the open file: one fstat / GetFileInformationByHandle, no path lookup
  // (the stage readers take one before and one after reading each file).
  virtual Stamp stamp() = 0;
  // Reads up to len bytes at off; returns bytes read (short only at end of file).
  virtual size_t pread(void* buf, size_t len, uint64_t off) = 0;
  // A hint that [off, off + len) will be read soon: POSIX posix_fadvise(WILLNEED) starts reading it
  // into the page cache in the background; Windows' cache manager reads ahead by itself (no-op). Never
  // fails: a refused hint only loses the head start.
  virtual void readAhead(uint64_t off, uint64_t len) = 0;
  // Writes exactly len bytes at off (loops on short writes).
  virtual void pwrite(const void* buf, size_t len, uint64_t off) = 0;
  virtual void truncate(uint64_t len) = 0;     // regular files only
  virtual void preallocate(uint64_t len) = 0;  // regular files only; reserves blocks, keeps length
  virtual void sync() = 0;                     // fdatasync / FlushFileBuffers
  // Regular files only: data extents as [offset, length) pairs, for reading sparse files without their holes.
  virtual std::vector<std::pair<uint64_t, uint64_t>> dataExtents(uint64_t size) = 0;
};

std::unique_ptr<File> Open(const std::string& path, const OpenOptions& opts);

// Renames a closed, synced file over `to` so that the new name survives a crash (write order: data,
// sync, rename, then this makes the rename durable). POSIX: rename + fsync of to's directory;
// Windows: MoveFileExW(MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH). Used for pack files.
void RenameDurable(const std::string& from, const std::string& to);

// An advisory + exclusive claim on a target so two driveseed processes never write one target.
// Linux: O_EXCL open of a block device (fails with EBUSY while mounted or claimed) plus flock.
// Windows: FSCTL_LOCK_VOLUME + FSCTL_DISMOUNT_VOLUME on every volume of the disk.
class Lock {
 public:
  virtual ~Lock() = default;  // releases
};
std::unique_ptr<Lock> AcquireLock(const std::string& path);

// Portable name of an OS error number ("EBUSY", or on Windows "ERROR_ACCESS_DENIED").
std::string ErrorName(int err);
std::string ErrorText(int err);

// Aligned memory for direct I/O. alignment is a power of two.
void* AlignedAlloc(size_t size, size_t alignment);
void AlignedFree(void* p);

// Backs [p, p + len) of this process's memory with writable pages now, without changing a byte
// (Linux 5.14+: madvise(MADV_POPULATE_WRITE)), so later first writes do not fault. False where the OS
// cannot (Windows, older kernels): the first writes then fault the pages in as usual. Any thread, also
// while other threads write the range.
bool PrefaultWrite(void* p, size_t len);

// Asks for transparent huge pages over the whole 2 MiB pages inside [p, p + len) (Linux:
// madvise(MADV_HUGEPAGE), which does nothing where THP is set to "never"; false on Windows, older
// kernels, or a refusal; the range then keeps ordinary pages). For a large buffer read at random, where
// 4 KiB pages miss the TLB on almost every access: scrypt's V. Not for the stage's sequential
// buffers: there the kernel zeroes whole 2 MiB pages of which a chunk uses part, and that cost what the
// fewer faults saved (docs/native-io.md "Stage readers and huge pages").
constexpr size_t kHugePage = size_t{2} << 20;
bool AdviseHugePages(void* p, size_t len);

}  // namespace ds::platform
