// Windows implementation of platform.h: unbuffered files and \\.\PhysicalDriveN, the volume lock
// (FSCTL_LOCK_VOLUME + FSCTL_DISMOUNT_VOLUME on every volume of the disk), ERROR_* names.
// Compile-checked on Linux with mingw-w64 (scripts/check-win32.mjs). Every function may run on any thread.
// Why one file: it is the whole Windows side of platform.h, and the only file that includes Windows headers.
#ifndef NOMINMAX
#define NOMINMAX
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <winioctl.h>

#include <malloc.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "aligned.h"
#include "errors.h"
#include "platform.h"

namespace ds::platform {

namespace {

[[noreturn]] void Fail(const std::string& code, const char* syscall, DWORD err, const std::string& path, int64_t offset,
                       const std::string& message) {
  NativeError e;
  e.code = code;
  e.syscall = syscall;
  e.errnum = static_cast<int>(err);
  e.path = path;
  e.offset = offset;
  e.message = message;
  throw Failure(std::move(e));
}

[[noreturn]] void Sys(const char* syscall, const std::string& path, int64_t offset = -1) {
  ThrowSys(syscall, static_cast<int>(GetLastError()), path, offset);
}

std::wstring Wide(const std::string& s) {
  if (s.empty()) return {};
  int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s.data(), static_cast<int>(s.size()), nullptr, 0);
  if (n <= 0) Fail("EINVAL", "MultiByteToWideChar", GetLastError(), s, -1, "path " + s + " is not valid UTF-8");
  std::wstring w(static_cast<size_t>(n), L'\0');
  MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), &w[0], n);
  return w;
}

// \\.\PhysicalDrive3, \\.\E: and other device-namespace paths are devices; everything else is a file.
bool IsDevicePath(const std::string& p) { return p.rfind("\\\\.\\", 0) == 0 || p.rfind("//./", 0) == 0; }

// Owns a HANDLE; closes it once.
class Handle {
 public:
  Handle() = default;
  explicit Handle(HANDLE h) : h_(h) {}
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept : h_(o.h_) { o.h_ = INVALID_HANDLE_VALUE; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = o.h_;
      o.h_ = INVALID_HANDLE_VALUE;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  HANDLE get() const { return h_; }
  bool valid() const { return h_ != INVALID_HANDLE_VALUE && h_ != nullptr; }
  void reset() {
    if (valid()) CloseHandle(h_);
    h_ = INVALID_HANDLE_VALUE;
  }

 private:
  HANDLE h_ = INVALID_HANDLE_VALUE;
};

// DeviceIoControl with an output buffer that grows on ERROR_INSUFFICIENT_BUFFER / ERROR_MORE_DATA.
bool Ioctl(HANDLE h, DWORD code, const void* in, DWORD inLen, std::vector<uint8_t>& out, DWORD* got) {
  for (int i = 0; i < 8; i++) {
    if (DeviceIoControl(h, code, const_cast<void*>(in), inLen, out.data(), static_cast<DWORD>(out.size()), got,
                        nullptr))
      return true;
    DWORD err = GetLastError();
    if (err != ERROR_INSUFFICIENT_BUFFER && err != ERROR_MORE_DATA) return false;
    out.resize(out.size() * 2);
  }
  return false;
}

std::string Trim(std::string s) {
  size_t b = 0, e = s.size();
  while (b < e && static_cast<unsigned char>(s[b]) <= ' ') b++;
  while (e > b && static_cast<unsigned char>(s[e - 1]) <= ' ') e--;
  return s.substr(b, e - b);
}

// Serial and model from IOCTL_STORAGE_QUERY_PROPERTY(StorageDeviceProperty); empty when absent.
void Identify(HANDLE h, Geometry& g) {
  STORAGE_PROPERTY_QUERY q = {};
  q.PropertyId = StorageDeviceProperty;
  q.QueryType = PropertyStandardQuery;
  std::vector<uint8_t> out(1024);
  DWORD got = 0;
  if (!Ioctl(h, IOCTL_STORAGE_QUERY_PROPERTY, &q, sizeof q, out, &got) || got < sizeof(STORAGE_DEVICE_DESCRIPTOR))
    return;
  auto* d = reinterpret_cast<const STORAGE_DEVICE_DESCRIPTOR*>(out.data());
  auto str = [&](DWORD off) -> std::string {
    if (off == 0 || off >= got) return {};
    const char* p = reinterpret_cast<const char*>(out.data()) + off;
    return Trim(std::string(p, strnlen(p, got - off)));
  };
  g.serial = str(d->SerialNumberOffset);
  std::string vendor = str(d->VendorIdOffset), product = str(d->ProductIdOffset);
  g.model = vendor.empty() ? product : product.empty() ? vendor : vendor + " " + product;
}

// An OVERLAPPED for one positional I/O on a handle opened with FILE_FLAG_OVERLAPPED, so several
// threads' reads and writes on one handle really run concurrently (a synchronous handle serialises them).
struct PositionalIo {
  OVERLAPPED ov = {};
  explicit PositionalIo(uint64_t off) {
    ov.Offset = static_cast<DWORD>(off);
    ov.OffsetHigh = static_cast<DWORD>(off >> 32);
    ov.hEvent = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  }
  ~PositionalIo() {
    if (ov.hEvent) CloseHandle(ov.hEvent);
  }
};

class WinFile final : public File {
 public:
  WinFile(Handle h, std::string path, bool direct, Kind kind)
      : h_(std::move(h)), path_(std::move(path)), direct_(direct), kind_(kind) {
    sector_ = geometry().logicalSectorSize;  // may throw: Open() then closes the handle
    Counters::openTargets++;
  }
  ~WinFile() override { Counters::openTargets--; }

  const std::string& path() const override { return path_; }
  bool direct() const override { return direct_; }

  Stamp stamp() override {
    BY_HANDLE_FILE_INFORMATION fi = {};
    if (!GetFileInformationByHandle(h_.get(), &fi)) Sys("GetFileInformationByHandle", path_);
    Stamp s;
    s.size = (static_cast<uint64_t>(fi.nFileSizeHigh) << 32) | fi.nFileSizeLow;
    s.mtimeNs = static_cast<int64_t>((static_cast<uint64_t>(fi.ftLastWriteTime.dwHighDateTime) << 32) |
                                     fi.ftLastWriteTime.dwLowDateTime) *
                100;
    return s;
  }

  Geometry geometry() override {
    Geometry g;
    g.kind = kind_;
    if (kind_ == Kind::BlockDevice) {
      DISK_GEOMETRY_EX dg = {};
      DWORD got = 0;
      if (DeviceIoControl(h_.get(), IOCTL_DISK_GET_DRIVE_GEOMETRY_EX, nullptr, 0, &dg, sizeof dg, &got, nullptr)) {
        g.logicalSectorSize = dg.Geometry.BytesPerSector;
        g.physicalSectorSize = dg.Geometry.BytesPerSector;
        g.size = static_cast<uint64_t>(dg.DiskSize.QuadPart);
      }
      GET_LENGTH_INFORMATION len = {};
      if (!DeviceIoControl(h_.get(), IOCTL_DISK_GET_LENGTH_INFO, nullptr, 0, &len, sizeof len, &got, nullptr))
        Sys("DeviceIoControl(IOCTL_DISK_GET_LENGTH_INFO)", path_);
      g.size = static_cast<uint64_t>(len.Length.QuadPart);
      STORAGE_PROPERTY_QUERY q = {};
      q.PropertyId = StorageAccessAlignmentProperty;
      q.QueryType = PropertyStandardQuery;
      STORAGE_ACCESS_ALIGNMENT_DESCRIPTOR a = {};
      if (DeviceIoControl(h_.get(), IOCTL_STORAGE_QUERY_PROPERTY, &q, sizeof q, &a, sizeof a, &got, nullptr) &&
          got >= sizeof a) {
        g.logicalSectorSize = a.BytesPerLogicalSector;
        g.physicalSectorSize = a.BytesPerPhysicalSector;
      }
      Identify(h_.get(), g);
      return g;
    }
    LARGE_INTEGER size;
    if (!GetFileSizeEx(h_.get(), &size)) Sys("GetFileSizeEx", path_);
    g.size = static_cast<uint64_t>(size.QuadPart);
    g.logicalSectorSize = 4096;
    g.physicalSectorSize = 4096;
    FILE_STORAGE_INFO si = {};
    if (GetFileInformationByHandleEx(h_.get(), FileStorageInfo, &si, sizeof si)) {
      g.logicalSectorSize = si.LogicalBytesPerSector;
      g.physicalSectorSize = std::max<uint32_t>(si.PhysicalBytesPerSectorForPerformance, si.LogicalBytesPerSector);
    }
    return g;
  }

  void readAhead(uint64_t, uint64_t) override {}  // the cache manager reads ahead of sequential reads itself

  size_t pread(void* buf, size_t len, uint64_t off) override {
    size_t done = 0;
    while (done < len) {
      DWORD want = static_cast<DWORD>(std::min<size_t>(len - done, 1u << 30));
      PositionalIo io(off + done);
      DWORD n = 0;
      if (!ReadFile(h_.get(), static_cast<uint8_t*>(buf) + done, want, nullptr, &io.ov) &&
          GetLastError() != ERROR_IO_PENDING) {
        if (GetLastError() == ERROR_HANDLE_EOF) break;
        IoError("ReadFile", GetLastError(), len, off + done);
      }
      if (!GetOverlappedResult(h_.get(), &io.ov, &n, TRUE)) {
        if (GetLastError() == ERROR_HANDLE_EOF) break;
        IoError("ReadFile", GetLastError(), len, off + done);
      }
      if (n == 0) break;
      done += n;
      // Unbuffered: a count that is not a whole number of sectors ends at the end of the file; a
      // further ReadFile from that unaligned position fails with ERROR_INVALID_PARAMETER, not EOF.
      if (direct_ && done % sector_ != 0) break;
    }
    return done;
  }

  void pwrite(const void* buf, size_t len, uint64_t off) override {
    size_t done = 0;
    while (done < len) {
      DWORD want = static_cast<DWORD>(std::min<size_t>(len - done, 1u << 30));
      PositionalIo io(off + done);
      DWORD n = 0;
      if (!WriteFile(h_.get(), static_cast<const uint8_t*>(buf) + done, want, nullptr, &io.ov) &&
          GetLastError() != ERROR_IO_PENDING)
        IoError("WriteFile", GetLastError(), len, off + done);
      if (!GetOverlappedResult(h_.get(), &io.ov, &n, TRUE)) IoError("WriteFile", GetLastError(), len, off + done);
      if (n == 0) ThrowSys("WriteFile", ERROR_HANDLE_DISK_FULL, path_, static_cast<int64_t>(off + done));
      done += n;
    }
  }

  void truncate(uint64_t len) override {
    FILE_END_OF_FILE_INFO e = {};
    e.EndOfFile.QuadPart = static_cast<LONGLONG>(len);
    if (!SetFileInformationByHandle(h_.get(), FileEndOfFileInfo, &e, sizeof e))
      Sys("SetFileInformationByHandle(FileEndOfFileInfo)", path_, static_cast<int64_t>(len));
  }

  void preallocate(uint64_t len) override {
    if (kind_ != Kind::File || len == 0) return;
    FILE_ALLOCATION_INFO a = {};
    a.AllocationSize.QuadPart = static_cast<LONGLONG>(len);
    if (!SetFileInformationByHandle(h_.get(), FileAllocationInfo, &a, sizeof a))
      Sys("SetFileInformationByHandle(FileAllocationInfo)", path_);
  }

  void sync() override {
    if (!FlushFileBuffers(h_.get())) Sys("FlushFileBuffers", path_);
  }

  std::vector<std::pair<uint64_t, uint64_t>> dataExtents(uint64_t size) override {
    std::vector<std::pair<uint64_t, uint64_t>> out;
    FILE_ALLOCATED_RANGE_BUFFER q = {};
    q.FileOffset.QuadPart = 0;
    q.Length.QuadPart = static_cast<LONGLONG>(size);
    std::vector<FILE_ALLOCATED_RANGE_BUFFER> ranges(64);
    for (;;) {
      DWORD got = 0;
      BOOL ok = DeviceIoControl(h_.get(), FSCTL_QUERY_ALLOCATED_RANGES, &q, sizeof q, ranges.data(),
                                static_cast<DWORD>(ranges.size() * sizeof ranges[0]), &got, nullptr);
      DWORD err = ok ? 0 : GetLastError();
      if (!ok && err != ERROR_MORE_DATA) {
        if (err == ERROR_INVALID_FUNCTION || err == ERROR_NOT_SUPPORTED)
          return {{0, size}};  // FAT, exFAT: no sparse files
        Sys("DeviceIoControl(FSCTL_QUERY_ALLOCATED_RANGES)", path_);
      }
      size_t n = got / sizeof ranges[0];
      for (size_t i = 0; i < n; i++) {
        uint64_t o = static_cast<uint64_t>(ranges[i].FileOffset.QuadPart),
                 l = static_cast<uint64_t>(ranges[i].Length.QuadPart);
        if (o < size) out.emplace_back(o, std::min(l, size - o));
      }
      if (ok || n == 0) break;
      // ERROR_MORE_DATA: continue after the last range returned.
      const auto& last = ranges[n - 1];
      q.FileOffset.QuadPart = last.FileOffset.QuadPart + last.Length.QuadPart;
      q.Length.QuadPart = static_cast<LONGLONG>(size) - q.FileOffset.QuadPart;
      if (q.Length.QuadPart <= 0) break;
    }
    return out;
  }

 private:
  [[noreturn]] void IoError(const char* syscall, DWORD err, size_t len, uint64_t off) {
    if (err == ERROR_INVALID_PARAMETER && direct_)
      Fail("ERR_ALIGNMENT", syscall, err, path_, static_cast<int64_t>(off),
           std::string(syscall) + " of " + std::to_string(len) + " bytes at offset " + std::to_string(off) + " on " +
               path_ +
               " was refused (ERROR_INVALID_PARAMETER) under FILE_FLAG_NO_BUFFERING: offset and length must be "
               "multiples of the " +
               std::to_string(sector_) + "-byte logical sector size and the buffer aligned");
    ThrowSys(syscall, static_cast<int>(err), path_, static_cast<int64_t>(off));
  }

  Handle h_;
  std::string path_;
  bool direct_;
  Kind kind_;
  uint32_t sector_ = 512;
};

// The disk number behind \\.\PhysicalDriveN (or any disk/volume handle).
DWORD DiskNumber(HANDLE h, const std::string& path) {
  STORAGE_DEVICE_NUMBER n = {};
  DWORD got = 0;
  if (!DeviceIoControl(h, IOCTL_STORAGE_GET_DEVICE_NUMBER, nullptr, 0, &n, sizeof n, &got, nullptr))
    Sys("DeviceIoControl(IOCTL_STORAGE_GET_DEVICE_NUMBER)", path);
  return n.DeviceNumber;
}

// Locks and dismounts every volume with an extent on disk `disk`; the handles keep the locks.
std::vector<Handle> LockVolumesOfDisk(DWORD disk, const std::string& path) {
  std::vector<Handle> locked;
  wchar_t name[MAX_PATH];
  HANDLE find = FindFirstVolumeW(name, MAX_PATH);
  if (find == INVALID_HANDLE_VALUE) Sys("FindFirstVolumeW", path);
  struct FindGuard {
    HANDLE h;
    ~FindGuard() { FindVolumeClose(h); }
  } guard{find};
  do {
    std::wstring vol = name;  // \\?\Volume{GUID}\ ; CreateFileW wants it without the trailing backslash
    if (!vol.empty() && vol.back() == L'\\') vol.pop_back();
    Handle v(CreateFileW(vol.c_str(), GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr,
                         OPEN_EXISTING, 0, nullptr));
    if (!v.valid()) continue;  // CD drives without media and the like
    std::vector<uint8_t> out(sizeof(VOLUME_DISK_EXTENTS) + 8 * sizeof(DISK_EXTENT));
    DWORD got = 0;
    if (!Ioctl(v.get(), IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS, nullptr, 0, out, &got)) continue;
    auto* ext = reinterpret_cast<const VOLUME_DISK_EXTENTS*>(out.data());
    bool onDisk = false;
    for (DWORD i = 0; i < ext->NumberOfDiskExtents; i++) onDisk |= ext->Extents[i].DiskNumber == disk;
    if (!onDisk) continue;
    if (!DeviceIoControl(v.get(), FSCTL_LOCK_VOLUME, nullptr, 0, nullptr, 0, &got, nullptr)) {
      DWORD err = GetLastError();
      Fail("ERR_LOCKED", "DeviceIoControl(FSCTL_LOCK_VOLUME)", err, path, -1,
           path +
               " has a volume in use (open files, Explorer windows, an antivirus scan or another driveseed) and it "
               "could not be locked; close what uses it and retry");
    }
    if (!DeviceIoControl(v.get(), FSCTL_DISMOUNT_VOLUME, nullptr, 0, nullptr, 0, &got, nullptr))
      Sys("DeviceIoControl(FSCTL_DISMOUNT_VOLUME)", path);
    locked.push_back(std::move(v));
  } while (FindNextVolumeW(find, name, MAX_PATH));
  DWORD err = GetLastError();
  if (err != ERROR_NO_MORE_FILES) Sys("FindNextVolumeW", path);
  return locked;
}

// A named semaphore (no thread affinity, unlike a mutex) as the claim between driveseed processes;
// it disappears with the last handle, so a crashed holder leaves nothing behind.
Handle ClaimName(const std::string& key, const std::string& path) {
  std::wstring name = L"Global\\driveseed-lock-" + Wide(key);
  Handle s(CreateSemaphoreW(nullptr, 1, 1, name.c_str()));
  if (!s.valid()) Sys("CreateSemaphoreW", path);
  if (WaitForSingleObject(s.get(), 0) != WAIT_OBJECT_0)
    Fail("ERR_LOCKED", "WaitForSingleObject", ERROR_LOCK_VIOLATION, path, -1,
         path + " is locked by another driveseed process or handle; wait for it to finish, or stop it, then retry");
  return s;
}

class WinLock final : public Lock {
 public:
  WinLock(Handle claim, Handle target, std::vector<Handle> volumes)
      : claim_(std::move(claim)), target_(std::move(target)), volumes_(std::move(volumes)) {
    Counters::heldLocks++;
  }
  ~WinLock() override {
    volumes_.clear();  // closing a locked volume's handle unlocks it; Windows remounts on next access
    if (claim_.valid()) ReleaseSemaphore(claim_.get(), 1, nullptr);
    Counters::heldLocks--;
  }

 private:
  Handle claim_, target_;
  std::vector<Handle> volumes_;
};

std::unique_ptr<Lock> LockTarget(const std::string& path) {
  std::wstring w = Wide(path);
  if (IsDevicePath(path)) {
    Handle disk(CreateFileW(w.c_str(), GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr,
                            OPEN_EXISTING, 0, nullptr));
    if (!disk.valid()) Sys("CreateFileW", path);
    DWORD n = DiskNumber(disk.get(), path);
    Handle claim = ClaimName("PhysicalDrive" + std::to_string(n), path);
    std::vector<Handle> vols = LockVolumesOfDisk(n, path);
    return std::make_unique<WinLock>(std::move(claim), std::move(disk), std::move(vols));
  }
  Handle f(CreateFileW(w.c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                       OPEN_EXISTING, 0, nullptr));
  if (!f.valid()) Sys("CreateFileW", path);
  OVERLAPPED ov = {};
  if (!LockFileEx(f.get(), LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, MAXDWORD, MAXDWORD, &ov)) {
    DWORD err = GetLastError();
    if (err == ERROR_LOCK_VIOLATION || err == ERROR_IO_PENDING)
      Fail("ERR_LOCKED", "LockFileEx", err, path, -1,
           path + " is locked by another driveseed process or handle; wait for it to finish, or stop it, then retry");
    Sys("LockFileEx", path);
  }
  return std::make_unique<WinLock>(Handle(), std::move(f), std::vector<Handle>());  // closing f unlocks
}

}  // namespace

std::unique_ptr<File> Open(const std::string& path, const OpenOptions& opts) {
  const bool device = IsDevicePath(path);
  std::wstring w = Wide(path);
  DWORD access = GENERIC_READ | (opts.write ? GENERIC_WRITE : 0);
  // Exclusive files: share mode 0. Exclusive disks: the lock below (which holds a handle itself) is the claim.
  DWORD share = opts.exclusive && !device ? 0 : FILE_SHARE_READ | FILE_SHARE_WRITE;
  DWORD disposition = OPEN_EXISTING;
  if (!device && opts.write) {
    if (opts.create && opts.truncate)
      disposition = CREATE_ALWAYS;
    else if (opts.create)
      disposition = OPEN_ALWAYS;
    else if (opts.truncate)
      disposition = TRUNCATE_EXISTING;
  }
  DWORD flags = FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED;
  if (opts.direct) flags |= FILE_FLAG_NO_BUFFERING | FILE_FLAG_WRITE_THROUGH;
  // The volume locks must be taken before the exclusive open: a mounted volume holds the disk open.
  std::unique_ptr<Lock> lock;
  if (opts.exclusive && device) lock = LockTarget(path);
  Handle h(CreateFileW(w.c_str(), access, share, nullptr, disposition, flags, nullptr));
  if (!h.valid()) {
    DWORD err = GetLastError();
    if (err == ERROR_SHARING_VIOLATION && opts.exclusive)
      Fail("ERR_LOCKED", "CreateFileW", err, path, -1,
           path + " is open elsewhere (another driveseed, Explorer, an antivirus scan); close it and retry");
    ThrowSys("CreateFileW", static_cast<int>(err), path);
  }
  if (!device && !opts.exclusive) {
    BY_HANDLE_FILE_INFORMATION bi;
    if (GetFileInformationByHandle(h.get(), &bi) && (bi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY))
      Fail("EISDIR", "CreateFileW", ERROR_DIRECTORY, path, -1, path + " is a directory; give a file or a disk");
  }
  // Device locks live as long as the File: platform.h says the destructor releases them.
  class LockedFile final : public File {
   public:
    LockedFile(std::unique_ptr<File> f, std::unique_ptr<Lock> l) : lock_(std::move(l)), f_(std::move(f)) {}
    const std::string& path() const override { return f_->path(); }
    bool direct() const override { return f_->direct(); }
    Geometry geometry() override { return f_->geometry(); }
    Stamp stamp() override { return f_->stamp(); }
    size_t pread(void* b, size_t n, uint64_t o) override { return f_->pread(b, n, o); }
    void readAhead(uint64_t o, uint64_t n) override { f_->readAhead(o, n); }
    void pwrite(const void* b, size_t n, uint64_t o) override { f_->pwrite(b, n, o); }
    void truncate(uint64_t n) override { f_->truncate(n); }
    void preallocate(uint64_t n) override { f_->preallocate(n); }
    void sync() override { f_->sync(); }
    std::vector<std::pair<uint64_t, uint64_t>> dataExtents(uint64_t s) override { return f_->dataExtents(s); }

   private:
    std::unique_ptr<Lock> lock_;  // declared first: released after the file handle closes
    std::unique_ptr<File> f_;
  };
  auto file = std::make_unique<WinFile>(std::move(h), path, opts.direct, device ? Kind::BlockDevice : Kind::File);
  if (lock) return std::make_unique<LockedFile>(std::move(file), std::move(lock));
  return file;
}

std::unique_ptr<Lock> AcquireLock(const std::string& path) { return LockTarget(path); }

void RenameDurable(const std::string& from, const std::string& to) {
  if (!MoveFileExW(Wide(from).c_str(), Wide(to).c_str(), MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH))
    Sys("MoveFileExW", to);
}

std::string ErrorName(int err) {
  switch (static_cast<DWORD>(err)) {
#define DS_E(name) \
  case name:       \
    return #name;
    DS_E(ERROR_INVALID_FUNCTION)
    DS_E(ERROR_FILE_NOT_FOUND)
        DS_E(ERROR_PATH_NOT_FOUND) DS_E(ERROR_TOO_MANY_OPEN_FILES) DS_E(ERROR_ACCESS_DENIED) DS_E(ERROR_INVALID_HANDLE)
            DS_E(ERROR_NOT_ENOUGH_MEMORY) DS_E(ERROR_OUTOFMEMORY) DS_E(ERROR_INVALID_DRIVE) DS_E(
                ERROR_WRITE_PROTECT) DS_E(ERROR_BAD_UNIT) DS_E(ERROR_NOT_READY) DS_E(ERROR_BAD_COMMAND) DS_E(ERROR_CRC)
                DS_E(ERROR_BAD_LENGTH) DS_E(ERROR_SEEK) DS_E(ERROR_SECTOR_NOT_FOUND) DS_E(ERROR_WRITE_FAULT) DS_E(
                    ERROR_READ_FAULT) DS_E(ERROR_GEN_FAILURE) DS_E(ERROR_SHARING_VIOLATION) DS_E(ERROR_LOCK_VIOLATION)
                    DS_E(ERROR_WRONG_DISK) DS_E(ERROR_HANDLE_EOF) DS_E(ERROR_HANDLE_DISK_FULL) DS_E(ERROR_NOT_SUPPORTED)
                        DS_E(ERROR_FILE_EXISTS) DS_E(ERROR_INVALID_PARAMETER) DS_E(ERROR_DISK_FULL)
                            DS_E(ERROR_INSUFFICIENT_BUFFER) DS_E(ERROR_INVALID_NAME) DS_E(ERROR_NEGATIVE_SEEK)
                                DS_E(ERROR_DIR_NOT_EMPTY) DS_E(ERROR_BUSY) DS_E(ERROR_ALREADY_EXISTS)
                                    DS_E(ERROR_FILENAME_EXCED_RANGE) DS_E(ERROR_MORE_DATA) DS_E(ERROR_NO_MORE_FILES)
                                        DS_E(ERROR_DIRECTORY) DS_E(ERROR_OPERATION_ABORTED) DS_E(ERROR_IO_INCOMPLETE)
                                            DS_E(ERROR_IO_PENDING) DS_E(ERROR_NOACCESS) DS_E(ERROR_IO_DEVICE)
                                                DS_E(ERROR_DEVICE_IN_USE) DS_E(ERROR_DEVICE_NOT_CONNECTED)
                                                    DS_E(ERROR_MEDIA_CHANGED) DS_E(ERROR_NOT_LOCKED)
                                                        DS_E(ERROR_FILE_TOO_LARGE) DS_E(ERROR_UNRECOGNIZED_VOLUME)
                                                            DS_E(ERROR_FILE_CORRUPT) DS_E(ERROR_DISK_CORRUPT)
                                                                DS_E(ERROR_NO_MEDIA_IN_DRIVE)
                                                                    DS_E(ERROR_PRIVILEGE_NOT_HELD) DS_E(ERROR_TIMEOUT)
#undef DS_E
                                                                        default : return "ERROR_" +
                                                                                  std::to_string(err);
  }
}

std::string ErrorText(int err) {
  char* msg = nullptr;
  DWORD n = FormatMessageA(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
                           nullptr, static_cast<DWORD>(err), 0, reinterpret_cast<LPSTR>(&msg), 0, nullptr);
  std::string s = n && msg ? Trim(std::string(msg, n)) : "Windows error " + std::to_string(err);
  if (msg) LocalFree(msg);
  return s;
}

void* AlignedAlloc(size_t size, size_t alignment) { return _aligned_malloc(size ? size : alignment, alignment); }
void AlignedFree(void* p) { _aligned_free(p); }

bool AdviseHugePages(void*, size_t) { return false; }  // large pages need SeLockMemoryPrivilege; not asked for
bool PrefaultWrite(void*, size_t) { return false; }  // committed pages fault in on first write, as before

}  // namespace ds::platform
