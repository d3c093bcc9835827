/*
 * faultshim: an LD_PRELOAD library that injects I/O faults into one process (the driveseed CLI
 * under test, test/io-faults*.test.ts) without device-mapper. It wraps the libc entry points the
 * native addon (open64, pread64, pwrite64, fdatasync, fsync, close: `nm -D build/Release/driveseed.node`)
 * and Node/libuv (open64, read, write, pread64, pwrite64, readv, writev, preadv64, pwritev64, fsync,
 * fdatasync, close: `nm -D $(which node)`) call, keeps an fd -> path table filled by the open calls,
 * and makes matching calls fail, come up short or stall.
 *
 * Configuration (environment, read once at load):
 *   FAULTSHIM_RULES  rules separated by ';', each a ','-separated list of key=value:
 *     path=<text>     the file, matched against the absolute path it was opened by (required)
 *     match=substr|suffix|exact|glob   how `path` matches (default substr; glob: fnmatch(3)
 *                     without flags, so * also matches /)
 *     op=read|write|fsync|open    which calls (default read)
 *     offset=<n>      fires on a call whose byte range reaches past n (off + len > n); default 0
 *     kind=eio|enospc|short|stall|errno   what happens (default eio)
 *     errno=<n>       for kind=errno: the errno to fail with
 *     bytes=<n>       for kind=short: transfer this many bytes (default: up to `offset` when the
 *                     call starts before it, else half the request rounded down to 4096, at least 1)
 *     ms=<n>          for kind=stall: sleep this long, then do the call (default 1000)
 *     count=<n>       fire this many times, 0 = always (default 1)
 *     skip=<n>        let the first n matching calls through before firing (default 0)
 *   FAULTSHIM_LOG    a file each firing appends one line to ("faultshim fired ..."), so that a test
 *                    can tell that its fault really happened; a stall writes its line before it
 *                    sleeps (result=0), so that a test can act during it (cancel).
 *
 * The rules hold for this process only: the constructor removes LD_PRELOAD from the environment, so
 * the tools driveseed starts (mkntfs, ntfs-3g, mount) run without faults. Counters are per rule and
 * per process, under one mutex: the addon does its I/O on worker threads.
 *
 * Not wrapped: dup/dup2/fcntl(F_DUPFD) copies of a descriptor (its copy has no path), mmap, io_uring
 * (the tests set UV_USE_IO_URING=0), sendfile and copy_file_range.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAX_RULES 16
#define MAX_FDS 65536

enum op { OP_READ, OP_WRITE, OP_FSYNC, OP_OPEN };
enum kind { K_ERRNO, K_SHORT, K_STALL };
enum match { M_SUBSTR, M_SUFFIX, M_EXACT, M_GLOB };

struct rule {
  char path[1024];
  enum match match;
  enum op op;
  long long offset;
  enum kind kind;
  int err;
  long long bytes;
  long ms;
  long count, skip;
  long seen, fired;
};

static struct rule rules[MAX_RULES];
static int nrules;
static char logpath[1024];
static char* fdpath[MAX_FDS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

typedef int (*open_fn)(const char*, int, ...);
typedef int (*openat_fn)(int, const char*, int, ...);
typedef int (*close_fn)(int);
typedef ssize_t (*read_fn)(int, void*, size_t);
typedef ssize_t (*write_fn)(int, const void*, size_t);
typedef ssize_t (*pread_fn)(int, void*, size_t, off_t);
typedef ssize_t (*pwrite_fn)(int, const void*, size_t, off_t);
typedef ssize_t (*readv_fn)(int, const struct iovec*, int);
typedef ssize_t (*preadv_fn)(int, const struct iovec*, int, off_t);
typedef int (*sync_fn)(int);

static open_fn r_open, r_open64;
static openat_fn r_openat, r_openat64;
static close_fn r_close;
static read_fn r_read;
static write_fn r_write;
static pread_fn r_pread, r_pread64;
static pwrite_fn r_pwrite, r_pwrite64;
static readv_fn r_readv, r_writev;
static preadv_fn r_preadv, r_preadv64, r_pwritev, r_pwritev64;
static sync_fn r_fsync, r_fdatasync;

#define REAL(var, name)                                            \
  do {                                                             \
    if (!var) *(void**)(&var) = dlsym(RTLD_NEXT, name);            \
  } while (0)

static void resolve_all(void) {
  REAL(r_open, "open");
  REAL(r_open64, "open64");
  REAL(r_openat, "openat");
  REAL(r_openat64, "openat64");
  REAL(r_close, "close");
  REAL(r_read, "read");
  REAL(r_write, "write");
  REAL(r_pread, "pread");
  REAL(r_pread64, "pread64");
  REAL(r_pwrite, "pwrite");
  REAL(r_pwrite64, "pwrite64");
  REAL(r_readv, "readv");
  REAL(r_writev, "writev");
  REAL(r_preadv, "preadv");
  REAL(r_preadv64, "preadv64");
  REAL(r_pwritev, "pwritev");
  REAL(r_pwritev64, "pwritev64");
  REAL(r_fsync, "fsync");
  REAL(r_fdatasync, "fdatasync");
}

static int errno_of(const char* v) {
  if (!strcmp(v, "eio")) return EIO;
  if (!strcmp(v, "enospc")) return ENOSPC;
  return 0;
}

static void parse_rule(char* text) {
  if (nrules >= MAX_RULES) return;
  struct rule* r = &rules[nrules];
  memset(r, 0, sizeof *r);
  r->err = EIO;
  r->ms = 1000;
  r->count = 1;
  r->bytes = -1;
  char* save = NULL;
  for (char* kv = strtok_r(text, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
    char* eq = strchr(kv, '=');
    if (!eq) continue;
    *eq = 0;
    const char* k = kv;
    const char* v = eq + 1;
    if (!strcmp(k, "path")) snprintf(r->path, sizeof r->path, "%s", v);
    else if (!strcmp(k, "match")) r->match = !strcmp(v, "exact") ? M_EXACT : !strcmp(v, "suffix") ? M_SUFFIX : !strcmp(v, "glob") ? M_GLOB : M_SUBSTR;
    else if (!strcmp(k, "op")) r->op = !strcmp(v, "write") ? OP_WRITE : !strcmp(v, "fsync") ? OP_FSYNC : !strcmp(v, "open") ? OP_OPEN : OP_READ;
    else if (!strcmp(k, "offset")) r->offset = atoll(v);
    else if (!strcmp(k, "kind")) {
      if (!strcmp(v, "short")) r->kind = K_SHORT;
      else if (!strcmp(v, "stall")) r->kind = K_STALL;
      else {
        r->kind = K_ERRNO;
        if (errno_of(v)) r->err = errno_of(v);
      }
    } else if (!strcmp(k, "errno")) r->err = atoi(v);
    else if (!strcmp(k, "bytes")) r->bytes = atoll(v);
    else if (!strcmp(k, "ms")) r->ms = atol(v);
    else if (!strcmp(k, "count")) r->count = atol(v);
    else if (!strcmp(k, "skip")) r->skip = atol(v);
  }
  if (r->path[0]) nrules++;
}

__attribute__((constructor)) static void faultshim_init(void) {
  resolve_all();
  const char* lp = getenv("FAULTSHIM_LOG");
  if (lp) snprintf(logpath, sizeof logpath, "%s", lp);
  const char* spec = getenv("FAULTSHIM_RULES");
  if (spec) {
    char* copy = strdup(spec);
    char* save = NULL;
    for (char* t = strtok_r(copy, ";", &save); t; t = strtok_r(NULL, ";", &save)) parse_rule(t);
    free(copy);
  }
  // Only this process: children (mkntfs, ntfs-3g, mount, …) start without the shim.
  unsetenv("LD_PRELOAD");
}

static const char* op_name(enum op o) {
  return o == OP_READ ? "read" : o == OP_WRITE ? "write" : o == OP_FSYNC ? "fsync" : "open";
}

static void note(const struct rule* r, const char* call, const char* path, long long off, long long len, long long result) {
  if (!logpath[0]) return;
  resolve_all();
  char line[2048];
  const char* what = r->kind == K_SHORT ? "short" : r->kind == K_STALL ? "stall" : strerrorname_np(r->err);
  int n = snprintf(line, sizeof line, "faultshim fired kind=%s op=%s call=%s path=%s offset=%lld len=%lld result=%lld pid=%d\n",
                   what ? what : "errno", op_name(r->op), call, path, off, len, result, (int)getpid());
  if (n < 0) return;
  if ((size_t)n >= sizeof line) n = sizeof line - 1;
  int fd = r_open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  ssize_t w = r_write(fd, line, (size_t)n);
  (void)w;
  r_close(fd);
}

static int path_matches(const struct rule* r, const char* p) {
  if (!p) return 0;
  size_t lp = strlen(p), lr = strlen(r->path);
  switch (r->match) {
    case M_EXACT: return !strcmp(p, r->path);
    case M_SUFFIX: return lp >= lr && !strcmp(p + lp - lr, r->path);
    case M_GLOB: return fnmatch(r->path, p, 0) == 0;
    default: return strstr(p, r->path) != NULL;
  }
}

static long long cur_offset(int fd) {
  off_t o = lseek(fd, 0, SEEK_CUR);
  return o < 0 ? 0 : (long long)o;
}

struct decision {
  int fire;
  struct rule copy;  // the rule as it was when it fired
  char path[1024];
};

/* Any thread: decides under the mutex whether a call fires a rule (and counts it). */
/* `off` < 0: the descriptor's file position (read/write/readv/writev), looked up only for a matching path. */
static struct decision decide(enum op op, int fd, const char* openpath, long long* off, long long len) {
  struct decision d;
  d.fire = 0;
  if (nrules == 0) return d;
  pthread_mutex_lock(&mu);
  const char* p = openpath ? openpath : (fd >= 0 && fd < MAX_FDS ? fdpath[fd] : NULL);
  if (p) {
    for (int i = 0; i < nrules; i++) {
      struct rule* r = &rules[i];
      if (r->op != op || !path_matches(r, p)) continue;
      if (*off < 0) *off = cur_offset(fd);
      if ((op == OP_READ || op == OP_WRITE) && *off + len <= r->offset) continue;
      if (r->count != 0 && r->fired >= r->count) continue;
      if (r->seen++ < r->skip) continue;
      r->fired++;
      d.fire = 1;
      d.copy = *r;
      snprintf(d.path, sizeof d.path, "%s", p);
      break;
    }
  }
  pthread_mutex_unlock(&mu);
  return d;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* How many bytes a short transfer moves. */
static size_t short_len(const struct rule* r, long long off, size_t len) {
  long long n;
  if (r->bytes >= 0) n = r->bytes;
  else if (off < r->offset) n = r->offset - off;
  else {
    n = (long long)(len / 2) & ~4095LL;
    if (n == 0) n = len / 2;
    if (n == 0) n = 1;
  }
  if ((size_t)n > len) n = (long long)len;
  return (size_t)n;
}


static void remember(int fd, int dirfd, const char* path) {
  if (fd < 0 || fd >= MAX_FDS || !path) return;
  char buf[4096];
  const char* abs = path;
  if (path[0] != '/') {
    char base[2048];
    base[0] = 0;
    if (dirfd == AT_FDCWD) {
      if (!getcwd(base, sizeof base)) base[0] = 0;
    } else {
      pthread_mutex_lock(&mu);
      if (dirfd >= 0 && dirfd < MAX_FDS && fdpath[dirfd]) snprintf(base, sizeof base, "%s", fdpath[dirfd]);
      pthread_mutex_unlock(&mu);
    }
    snprintf(buf, sizeof buf, "%s/%s", base, path);
    abs = buf;
  }
  char* copy = strdup(abs);
  pthread_mutex_lock(&mu);
  free(fdpath[fd]);
  fdpath[fd] = copy;
  pthread_mutex_unlock(&mu);
}

static void forget(int fd) {
  if (fd < 0 || fd >= MAX_FDS) return;
  pthread_mutex_lock(&mu);
  free(fdpath[fd]);
  fdpath[fd] = NULL;
  pthread_mutex_unlock(&mu);
}

/* ---- open / close ---- */

static int open_common(openat_fn real_at, open_fn real, const char* call, int dirfd, const char* path, int flags, mode_t mode) {
  if (nrules > 0) {
    char abs[4096];
    const char* p = path;
    if (path && path[0] != '/' && dirfd == AT_FDCWD) {
      char cwd[2048];
      if (getcwd(cwd, sizeof cwd)) {
        snprintf(abs, sizeof abs, "%s/%s", cwd, path);
        p = abs;
      }
    }
    long long zero = 0;
    struct decision d = decide(OP_OPEN, -1, p, &zero, 0);
    if (d.fire) {
      if (d.copy.kind == K_STALL) {
        note(&d.copy, call, d.path, 0, 0, 0);
        sleep_ms(d.copy.ms);
      } else {
        note(&d.copy, call, d.path, 0, 0, -1);
        errno = d.copy.err;
        return -1;
      }
    }
  }
  int fd = real ? real(path, flags, mode) : real_at(dirfd, path, flags, mode);
  if (fd >= 0) {
    int e = errno;
    remember(fd, dirfd, path);
    errno = e;
  }
  return fd;
}

static mode_t mode_arg(int flags, va_list ap) {
  return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  REAL(r_open, "open");
  return open_common(NULL, r_open, "open", AT_FDCWD, path, flags, mode);
}

int open64(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  REAL(r_open64, "open64");
  return open_common(NULL, r_open64, "open64", AT_FDCWD, path, flags, mode);
}

int openat(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  REAL(r_openat, "openat");
  return open_common(r_openat, NULL, "openat", dirfd, path, flags, mode);
}

int openat64(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  REAL(r_openat64, "openat64");
  return open_common(r_openat64, NULL, "openat64", dirfd, path, flags, mode);
}

int close(int fd) {
  REAL(r_close, "close");
  forget(fd);
  return r_close(fd);
}

/* ---- read / write ---- */

/* Applies a decision to a single-buffer transfer; returns 1 when the call was answered here. */
#define TRANSFER(OP, CALL, REALCALL, OFFEXPR)                                       \
  long long off_ = (OFFEXPR);                                                       \
  struct decision d = decide(OP, fd, NULL, &off_, (long long)len);                   \
  if (d.fire) {                                                                     \
    if (d.copy.kind == K_ERRNO) {                                                   \
      note(&d.copy, CALL, d.path, off_, (long long)len, -1);                        \
      errno = d.copy.err;                                                           \
      return -1;                                                                    \
    }                                                                               \
    if (d.copy.kind == K_STALL) {                                                   \
      note(&d.copy, CALL, d.path, off_, (long long)len, 0);                         \
      sleep_ms(d.copy.ms);                                                          \
      return REALCALL;                                                              \
    }                                                                               \
    len = short_len(&d.copy, off_, len);                                            \
    ssize_t n_ = REALCALL;                                                          \
    int e_ = errno;                                                                 \
    note(&d.copy, CALL, d.path, off_, (long long)len, (long long)n_);               \
    errno = e_;                                                                     \
    return n_;                                                                      \
  }

ssize_t read(int fd, void* buf, size_t len) {
  REAL(r_read, "read");
  if (nrules == 0) return r_read(fd, buf, len);
  TRANSFER(OP_READ, "read", r_read(fd, buf, len), -1)
  return r_read(fd, buf, len);
}

ssize_t write(int fd, const void* buf, size_t len) {
  REAL(r_write, "write");
  if (nrules == 0) return r_write(fd, buf, len);
  TRANSFER(OP_WRITE, "write", r_write(fd, buf, len), -1)
  return r_write(fd, buf, len);
}

ssize_t pread(int fd, void* buf, size_t len, off_t off) {
  REAL(r_pread, "pread");
  if (nrules == 0) return r_pread(fd, buf, len, off);
  TRANSFER(OP_READ, "pread", r_pread(fd, buf, len, off), (long long)off)
  return r_pread(fd, buf, len, off);
}

ssize_t pread64(int fd, void* buf, size_t len, off_t off) {
  REAL(r_pread64, "pread64");
  if (nrules == 0) return r_pread64(fd, buf, len, off);
  TRANSFER(OP_READ, "pread64", r_pread64(fd, buf, len, off), (long long)off)
  return r_pread64(fd, buf, len, off);
}

ssize_t pwrite(int fd, const void* buf, size_t len, off_t off) {
  REAL(r_pwrite, "pwrite");
  if (nrules == 0) return r_pwrite(fd, buf, len, off);
  TRANSFER(OP_WRITE, "pwrite", r_pwrite(fd, buf, len, off), (long long)off)
  return r_pwrite(fd, buf, len, off);
}

ssize_t pwrite64(int fd, const void* buf, size_t len, off_t off) {
  REAL(r_pwrite64, "pwrite64");
  if (nrules == 0) return r_pwrite64(fd, buf, len, off);
  TRANSFER(OP_WRITE, "pwrite64", r_pwrite64(fd, buf, len, off), (long long)off)
  return r_pwrite64(fd, buf, len, off);
}

/* ---- vectored ---- */

static size_t iov_total(const struct iovec* iov, int n) {
  size_t t = 0;
  for (int i = 0; i < n; i++) t += iov[i].iov_len;
  return t;
}

/* Copies iov into out, cut to `limit` bytes; returns the number of entries. */
static int iov_cut(const struct iovec* iov, int n, size_t limit, struct iovec* out, int max) {
  int k = 0;
  for (int i = 0; i < n && limit > 0 && k < max; i++) {
    out[k] = iov[i];
    if (out[k].iov_len > limit) out[k].iov_len = limit;
    limit -= out[k].iov_len;
    k++;
  }
  return k;
}

#define VECTORED(OP, CALL, REALCALL, OFFEXPR)                                        \
  size_t len = iov_total(iov, cnt);                                                  \
  long long off_ = (OFFEXPR);                                                        \
  struct decision d = decide(OP, fd, NULL, &off_, (long long)len);                    \
  if (d.fire) {                                                                      \
    if (d.copy.kind == K_ERRNO) {                                                    \
      note(&d.copy, CALL, d.path, off_, (long long)len, -1);                         \
      errno = d.copy.err;                                                            \
      return -1;                                                                     \
    }                                                                                \
    struct iovec cut_[64];                                                           \
    const struct iovec* use_ = iov;                                                  \
    int ucnt_ = cnt;                                                                 \
    if (d.copy.kind == K_STALL) {                                                    \
      note(&d.copy, CALL, d.path, off_, (long long)len, 0);                          \
      sleep_ms(d.copy.ms);                                                           \
      return REALCALL;                                                               \
    }                                                                                \
    if (cnt <= 64) {                                                                 \
      len = short_len(&d.copy, off_, len);                                           \
      ucnt_ = iov_cut(iov, cnt, len, cut_, 64);                                      \
      use_ = cut_;                                                                   \
    }                                                                                \
    ssize_t n_ = REALCALL;                                                           \
    int e_ = errno;                                                                  \
    note(&d.copy, CALL, d.path, off_, (long long)len, (long long)n_);                \
    errno = e_;                                                                      \
    return n_;                                                                       \
  }

ssize_t readv(int fd, const struct iovec* iov, int cnt) {
  REAL(r_readv, "readv");
  if (nrules == 0) return r_readv(fd, iov, cnt);
  VECTORED(OP_READ, "readv", r_readv(fd, use_, ucnt_), -1)
  return r_readv(fd, iov, cnt);
}

ssize_t writev(int fd, const struct iovec* iov, int cnt) {
  REAL(r_writev, "writev");
  if (nrules == 0) return r_writev(fd, iov, cnt);
  VECTORED(OP_WRITE, "writev", r_writev(fd, use_, ucnt_), -1)
  return r_writev(fd, iov, cnt);
}

ssize_t preadv(int fd, const struct iovec* iov, int cnt, off_t off) {
  REAL(r_preadv, "preadv");
  if (nrules == 0) return r_preadv(fd, iov, cnt, off);
  VECTORED(OP_READ, "preadv", r_preadv(fd, use_, ucnt_, off), (long long)off)
  return r_preadv(fd, iov, cnt, off);
}

ssize_t preadv64(int fd, const struct iovec* iov, int cnt, off_t off) {
  REAL(r_preadv64, "preadv64");
  if (nrules == 0) return r_preadv64(fd, iov, cnt, off);
  VECTORED(OP_READ, "preadv64", r_preadv64(fd, use_, ucnt_, off), (long long)off)
  return r_preadv64(fd, iov, cnt, off);
}

ssize_t pwritev(int fd, const struct iovec* iov, int cnt, off_t off) {
  REAL(r_pwritev, "pwritev");
  if (nrules == 0) return r_pwritev(fd, iov, cnt, off);
  VECTORED(OP_WRITE, "pwritev", r_pwritev(fd, use_, ucnt_, off), (long long)off)
  return r_pwritev(fd, iov, cnt, off);
}

ssize_t pwritev64(int fd, const struct iovec* iov, int cnt, off_t off) {
  REAL(r_pwritev64, "pwritev64");
  if (nrules == 0) return r_pwritev64(fd, iov, cnt, off);
  VECTORED(OP_WRITE, "pwritev64", r_pwritev64(fd, use_, ucnt_, off), (long long)off)
  return r_pwritev64(fd, iov, cnt, off);
}

/* ---- fsync ---- */

static int sync_common(sync_fn real, const char* call, int fd) {
  long long zero = 0;
  struct decision d = decide(OP_FSYNC, fd, NULL, &zero, 0);
  if (d.fire) {
    if (d.copy.kind == K_STALL) {
      note(&d.copy, call, d.path, 0, 0, 0);
      sleep_ms(d.copy.ms);
    } else {
      note(&d.copy, call, d.path, 0, 0, -1);
      errno = d.copy.err;
      return -1;
    }
  }
  return real(fd);
}

int fsync(int fd) {
  REAL(r_fsync, "fsync");
  return sync_common(r_fsync, "fsync", fd);
}

int fdatasync(int fd) {
  REAL(r_fdatasync, "fdatasync");
  return sync_common(r_fdatasync, "fdatasync", fd);
}
