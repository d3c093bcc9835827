// Batch-shaped asynchronous jobs (CONTRIBUTING.md, "Native code"; ARCHITECTURE.md, thread model).
//
// A Job is one call from JS: the spec is copied into plain C++ members on the JS thread, then Run()
// executes on the job's own std::thread (never in the libuv pool), with whatever fixed worker threads
// the job itself starts. Progress counters are atomics; ordered facts are queued with Emit(); both are
// delivered to the JS onProgress callback coalesced to at most one call per kProgressIntervalMs, in
// order, through one ThreadSafeFunction. The promise settles only after Run() has returned and every
// worker thread, buffer and descriptor the job owned is released (RAII in Run's scope), so a cancelled
// job leaves nothing behind.
//
// Lifetime: the JS thread owns a Job from Launch until the final batch is delivered (it joins the job
// thread, settles the promise and deletes the job there), or, at environment teardown, until
// CancelAll (which cancels, joins and deletes it). A throwing onProgress callback cancels the job,
// and the promise rejects with the value it threw. No exception leaves a native thread.
#pragma once
#include <napi.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "errors.h"

namespace ds {

constexpr int kProgressIntervalMs = 200;  // ≤ 5 callbacks a second: enough for a live rate/ETA display

using CancelFlag = std::shared_ptr<std::atomic<bool>>;

// JS class CancelToken: `new CancelToken()`, `.cancel()`, `.cancelled`. The TypeScript layer wires an
// AbortSignal to it. Shared with running jobs by shared_ptr, so it may outlive or predecease them.
class CancelToken : public Napi::ObjectWrap<CancelToken> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  static CancelFlag FromValue(Napi::Env env, Napi::Value v, const char* what);  // undefined → fresh flag
  explicit CancelToken(const Napi::CallbackInfo& info);
  CancelFlag flag() const { return flag_; }

 private:
  Napi::Value Cancel(const Napi::CallbackInfo& info);
  Napi::Value GetCancelled(const Napi::CallbackInfo& info);
  CancelFlag flag_;
};

class Job {
 public:
  using EventBuilder = std::function<Napi::Value(Napi::Env)>;
  virtual ~Job() = default;

  // JS thread: starts `job` and returns its promise. onProgress may be undefined.
  // The callback receives (progress: {bytesDone, bytesTotal, bytesOut, itemsDone, itemsTotal, elapsedMs}, events:
  // any[]).
  static Napi::Value Launch(Napi::Env env, std::unique_ptr<Job> job, Napi::Value onProgress, CancelFlag cancel);

  // Environment teardown, on env's JS thread: cancels env's live jobs, joins their threads, deletes them.
  static void CancelAll(napi_env env);
  // Once per process (addon init): at exit(), cancel every running job and wait briefly for its threads.
  static void InstallExitHook();
  // Any thread.
  void RequestCancel() {
    if (cancel_) cancel_->store(true);
  }

  // Any thread: true once cancellation was requested (JS token or environment teardown).
  bool cancelled() const { return cancel_ && cancel_->load(std::memory_order_relaxed); }
  // Any thread: throws Failure{ERR_CANCELLED} if cancelled.
  void checkCancelled() const;

 protected:
  // Job thread (and the job's own workers). Throws ds::Failure on error.
  virtual void Run() = 0;
  // JS thread, after Run() returned normally.
  virtual Napi::Value Result(Napi::Env env) = 0;

  // Any thread: progress counters.
  void setTotals(uint64_t bytesTotal, uint64_t itemsTotal) {
    bytesTotal_ = bytesTotal;
    itemsTotal_ = itemsTotal;
  }
  void addTotals(uint64_t bytes, uint64_t items) {
    bytesTotal_ += bytes;
    itemsTotal_ += items;
  }
  void advance(uint64_t bytesDone, uint64_t itemsDone = 0, uint64_t bytesOut = 0);
  // Any thread: queue an ordered fact; built into a JS value on the JS thread. Callers that need a
  // global order must call Emit in that order (e.g. from an ordered writer stage).
  void emit(EventBuilder ev);
  // Any thread: deliver progress if the interval elapsed (or always, when force).
  void flush(bool force = false);

 private:
  struct Batch;
  // JS thread (env == nullptr at environment teardown, when job may already be deleted: only the
  // batch is freed then). Never throws.
  static void CallJs(Napi::Env env, Napi::Function cb, Job* job, Batch* batch);
  // Typed so that node-addon-api hands undelivered batches to CallJs at teardown (env == nullptr)
  // instead of dropping them; the untyped ThreadSafeFunction leaked them.
  using Tsfn = Napi::TypedThreadSafeFunction<Job, Batch, &Job::CallJs>;
  void ThreadMain();
  // JS thread: the final batch. Joins the job thread, settles the promise.
  void Settle(Napi::Env env);

  napi_env env_ = nullptr;
  CancelFlag cancel_;
  std::thread thread_;
  Tsfn tsfn_;
  // Set in Launch. Not a Deferred member: its constructor creates a promise and aborts with a null env.
  std::optional<Napi::Promise::Deferred> deferred_;
  bool hasCallback_ = false;

  std::atomic<uint64_t> bytesDone_{0}, bytesTotal_{0}, bytesOut_{0}, itemsDone_{0}, itemsTotal_{0};
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::atomic<int64_t> lastFlushMs_{-1000000};
  std::mutex eventsMu_;  // guards events_ and the order of batches entering the queue
  std::vector<EventBuilder> events_;

  bool failed_ = false;
  NativeError error_;
  // JS thread: what the onProgress callback threw (an object; a primitive is wrapped in an Error).
  Napi::ObjectReference callbackError_;
  friend struct JobRegistry;
};

// A job's own worker threads, joined on every exit path (also when Run() unwinds by exception), so no
// thread outlives what it uses: declare the group after those members and locals. `stop` (optional)
// wakes every thread and asks it to leave; JoinAll() runs it, then joins every thread. Job thread.
class ThreadGroup {
 public:
  explicit ThreadGroup(std::function<void()> stop = {}) : stop_(std::move(stop)) {}
  ~ThreadGroup() { JoinAll(); }
  ThreadGroup(const ThreadGroup&) = delete;
  ThreadGroup& operator=(const ThreadGroup&) = delete;
  template <typename F>
  void Start(F&& fn) {
    threads_.emplace_back(std::forward<F>(fn));
  }
  // Waits for thread i (started i-th) without stopping anything: a stage that must drain first.
  void Join(size_t i) {
    if (threads_[i].joinable()) threads_[i].join();
  }
  // Waits for every thread to end on its own (no stop).
  void Wait() {
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }
  // Asks every thread to stop, then waits for them. Idempotent.
  void JoinAll() {
    if (stop_) stop_();
    Wait();
  }
  size_t size() const { return threads_.size(); }

 private:
  std::function<void()> stop_;
  std::vector<std::thread> threads_;
};

// Throws a TypeError naming `what` unless v is a function or undefined.
Napi::Value OptionalFunction(Napi::Env env, Napi::Value v, const char* what);

}  // namespace ds
