#include "job.h"

#include <condition_variable>
#include <new>
#include <set>
#include <system_error>

#include "aligned.h"

namespace ds {

// ---- CancelToken ---------------------------------------------------------------------------------

void CancelToken::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(
      env, "CancelToken",
      {InstanceMethod<&CancelToken::Cancel>("cancel"), InstanceAccessor<&CancelToken::GetCancelled>("cancelled")});
  auto* ref = new Napi::FunctionReference(Napi::Persistent(ctor));
  env.AddCleanupHook([ref]() { delete ref; });
  exports.Set("CancelToken", ctor);
}

// Identifies CancelToken objects: a look-alike (or another native handle) is refused, never unwrapped.
static constexpr napi_type_tag kCancelTokenTag = {0x3f0c9b7e51a24d68ULL, 0x9e1d4c27b08a6f53ULL};

CancelToken::CancelToken(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<CancelToken>(info), flag_(std::make_shared<std::atomic<bool>>(false)) {
  info.This().As<Napi::Object>().TypeTag(&kCancelTokenTag);
}

Napi::Value CancelToken::Cancel(const Napi::CallbackInfo& info) {
  flag_->store(true);
  return info.Env().Undefined();
}

Napi::Value CancelToken::GetCancelled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), flag_->load());
}

CancelFlag CancelToken::FromValue(Napi::Env env, Napi::Value v, const char* what) {
  if (v.IsUndefined() || v.IsNull()) return std::make_shared<std::atomic<bool>>(false);
  if (!v.IsObject()) ThrowType(env, std::string("Expected a CancelToken for ") + what);
  Napi::Object o = v.As<Napi::Object>();
  if (!o.CheckTypeTag(&kCancelTokenTag)) ThrowType(env, std::string("Expected a CancelToken for ") + what);
  CancelToken* t = Napi::ObjectWrap<CancelToken>::Unwrap(o);
  return t->flag();
}

Napi::Value OptionalFunction(Napi::Env env, Napi::Value v, const char* what) {
  if (v.IsUndefined() || v.IsNull() || v.IsFunction()) return v;
  ThrowType(env, std::string("Expected a function or undefined for ") + what);
}

// ---- Registry: environment teardown cancels and joins every live job -----------------------------

struct JobRegistry {
  std::mutex mu;
  std::set<Job*> live;     // launched, not yet settled or torn down (JS thread adds and removes)
  std::set<Job*> running;  // job thread not yet past Run() and its last flush
  std::condition_variable idle;
  // Never destroyed: job threads may still be finishing while exit() runs static destructors.
  static JobRegistry& Get() {
    static JobRegistry* r = new JobRegistry();
    return *r;
  }
};

// ---- Job -----------------------------------------------------------------------------------------

struct Job::Batch {
  uint64_t bytesDone, bytesTotal, bytesOut, itemsDone, itemsTotal;
  int64_t elapsedMs;
  std::vector<EventBuilder> events;
  bool final = false;  // last call: settle the promise
};

void Job::checkCancelled() const {
  if (cancelled()) ThrowCode("ERR_CANCELLED", "The operation was cancelled");
}

void Job::advance(uint64_t bytesDone, uint64_t itemsDone, uint64_t bytesOut) {
  bytesDone_.fetch_add(bytesDone, std::memory_order_relaxed);
  itemsDone_.fetch_add(itemsDone, std::memory_order_relaxed);
  bytesOut_.fetch_add(bytesOut, std::memory_order_relaxed);
  flush(false);
}

void Job::emit(EventBuilder ev) {
  std::lock_guard<std::mutex> lk(eventsMu_);
  events_.push_back(std::move(ev));
}

void Job::flush(bool force) {
  auto nowMs = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start_).count();
  int64_t last = lastFlushMs_.load(std::memory_order_relaxed);
  if (!force && nowMs - last < kProgressIntervalMs) return;
  if (!force && !lastFlushMs_.compare_exchange_strong(last, nowMs)) return;  // another thread flushes
  if (force) lastFlushMs_.store(nowMs);
  if (!hasCallback_) {
    std::lock_guard<std::mutex> lk(eventsMu_);
    events_.clear();
    return;
  }
  auto b = std::make_unique<Batch>();
  std::lock_guard<std::mutex> lk(eventsMu_);
  b->events.swap(events_);
  b->bytesDone = bytesDone_;
  b->bytesTotal = bytesTotal_;
  b->bytesOut = bytesOut_;
  b->itemsDone = itemsDone_;
  b->itemsTotal = itemsTotal_;
  b->elapsedMs = nowMs;
  // Enqueued under the lock so batches enter the queue in the order their events were taken. The
  // queue is unbounded (a few batches a second), so this never blocks; it fails only once the
  // environment is closing, and then nobody is listening.
  if (tsfn_.NonBlockingCall(b.get()) == napi_ok) b.release();
}

// Builds the progress object and the events array and calls the callback. JS thread.
static void Deliver(Napi::Env env, Napi::Function cb, Napi::ObjectReference& callbackError, const CancelFlag& cancel,
                    uint64_t bytesDone, uint64_t bytesTotal, uint64_t bytesOut, uint64_t itemsDone, uint64_t itemsTotal,
                    int64_t elapsedMs, const std::vector<Job::EventBuilder>& events) {
  Napi::Object p = Napi::Object::New(env);
  p.Set("bytesDone", static_cast<double>(bytesDone));
  p.Set("bytesTotal", static_cast<double>(bytesTotal));
  p.Set("bytesOut", static_cast<double>(bytesOut));
  p.Set("itemsDone", static_cast<double>(itemsDone));
  p.Set("itemsTotal", static_cast<double>(itemsTotal));
  p.Set("elapsedMs", static_cast<double>(elapsedMs));
  Napi::Array evs = Napi::Array::New(env, events.size());
  for (size_t i = 0; i < events.size(); i++) evs.Set(i, events[i](env));
  try {
    cb.Call({p, evs});
  } catch (const Napi::Error& e) {
    // The callback threw: stop the job and reject its promise with what was thrown (first one wins),
    // as an EventEmitter listener's throw would surface, instead of losing it.
    if (callbackError.IsEmpty()) {
      Napi::Value v = e.Value();
      Napi::Object o = v.IsObject() ? v.As<Napi::Object>() : Napi::Error::New(env, v.ToString().Utf8Value()).Value();
      callbackError = Napi::Persistent(o);
    }
    if (cancel) cancel->store(true);
  }
}

void Job::CallJs(Napi::Env env, Napi::Function cb, Job* job, Batch* b) {
  std::unique_ptr<Batch> batch(b);
  if (env == nullptr) return;  // teardown: the job is CancelAll's (and may be gone); free the batch only
  if (batch->final) {
    job->Settle(env);  // deletes job
    return;
  }
  if (!job->hasCallback_ || !job->callbackError_.IsEmpty()) return;  // a callback that threw is not called again
  // Nothing may escape into node (a C++ exception through the tsfn callback is std::terminate). Calls
  // fail while a worker is terminating (JS execution is stopped): that progress is simply not shown.
  try {
    Napi::HandleScope scope(env);
    Deliver(env, cb, job->callbackError_, job->cancel_, batch->bytesDone, batch->bytesTotal, batch->bytesOut,
            batch->itemsDone, batch->itemsTotal, batch->elapsedMs, batch->events);
  } catch (const Napi::Error&) {
  } catch (const std::exception&) {
  }
}

void Job::Settle(Napi::Env env) {
  // The job thread enqueued this batch as its last act: the join is short, and after it no thread of
  // this job exists (Run joined its workers before returning).
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard<std::mutex> lk(JobRegistry::Get().mu);
    JobRegistry::Get().live.erase(this);
  }
  Counters::liveJobs--;
  try {
    Napi::HandleScope scope(env);
    Napi::Promise::Deferred d = *deferred_;
    if (!callbackError_.IsEmpty()) {
      d.Reject(callbackError_.Value());
    } else if (failed_) {
      d.Reject(ToJsError(env, error_).Value());
    } else {
      try {
        d.Resolve(Result(env));
      } catch (const Failure& f) {
        d.Reject(ToJsError(env, f.error()).Value());
      } catch (const Napi::Error& e) {
        d.Reject(e.Value());
      }
    }
  } catch (const Napi::Error&) {
    // Settling failed (the environment is going away): nobody can observe the promise any more.
  } catch (const std::exception&) {
  }
  callbackError_.Reset();
  tsfn_.Release();
  delete this;
}

void Job::ThreadMain() {
  try {
    Run();
  } catch (const Failure& f) {
    failed_ = true;
    error_ = f.error();
  } catch (const std::bad_alloc&) {
    failed_ = true;
    error_ = NativeError{"ENOMEM", "Out of memory in the native data plane", "", 0, "", -1};
  } catch (const std::exception& e) {
    failed_ = true;
    error_ = NativeError{"ERR_INTERNAL", std::string("Internal error: ") + e.what(), "", 0, "", -1};
  } catch (...) {
    failed_ = true;
    error_ = NativeError{"ERR_INTERNAL", "Internal error: an unknown exception left the job", "", 0, "", -1};
  }
  if (failed_ && cancelled() && error_.code != "ERR_CANCELLED") {
    // A failure caused by tearing the pipeline down for cancellation is reported as cancellation.
    error_ = NativeError{"ERR_CANCELLED", "The operation was cancelled", "", 0, "", -1};
  }
  Batch* b = nullptr;
  try {
    flush(true);  // last progress with any remaining ordered events
    b = new Batch();
  } catch (...) {
    // Out of memory for the last batch: there is no way to settle the promise without one. Retry
    // until memory is available (or the environment closes) rather than leave the promise pending.
    while (!b) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      b = new (std::nothrow) Batch();
    }
  }
  b->final = true;
  {
    std::lock_guard<std::mutex> lk(JobRegistry::Get().mu);
    JobRegistry::Get().running.erase(this);
  }
  JobRegistry::Get().idle.notify_all();
  // After a successful call the JS thread owns (and deletes) this job: touch no member afterwards.
  if (tsfn_.BlockingCall(b) != napi_ok) {
    // The environment is closing (teardown); CancelAll joins and deletes this job.
    delete b;
  }
}

Napi::Value Job::Launch(Napi::Env env, std::unique_ptr<Job> owned, Napi::Value onProgress, CancelFlag cancel) {
  Job* job = owned.get();
  job->env_ = env;
  job->cancel_ = std::move(cancel);
  job->deferred_.emplace(Napi::Promise::Deferred::New(env));
  job->hasCallback_ = onProgress.IsFunction();
  Napi::Function cb =
      job->hasCallback_ ? onProgress.As<Napi::Function>() : Napi::Function::New(env, [](const Napi::CallbackInfo&) {});
  job->tsfn_ = Tsfn::New(env, cb, "driveseed-job", 0, 1, job);
  Napi::Promise promise = job->deferred_->Promise();
  {
    std::lock_guard<std::mutex> lk(JobRegistry::Get().mu);
    JobRegistry::Get().live.insert(job);
    JobRegistry::Get().running.insert(job);
  }
  try {
    job->thread_ = std::thread([job]() { job->ThreadMain(); });
  } catch (const std::system_error& e) {
    // No thread (RLIMIT_NPROC, out of memory): reject now; nothing was started.
    {
      std::lock_guard<std::mutex> lk(JobRegistry::Get().mu);
      JobRegistry::Get().live.erase(job);
      JobRegistry::Get().running.erase(job);
    }
    job->tsfn_.Release();
    NativeError err{
        "EAGAIN", std::string("Could not start the job thread: ") + e.what(), "pthread_create", e.code().value(), "",
        -1};
    job->deferred_->Reject(ToJsError(env, err).Value());
    return promise;  // `owned` deletes the job
  }
  owned.release();
  Counters::liveJobs++;
  return promise;
}

// process.exit() on the main thread runs no environment cleanup hook: exit() runs atexit handlers and
// static destructors (OpenSSL's cleanup among them) while job threads may still be hashing or
// writing. This handler, registered after OpenSSL's, runs before it: it cancels every live job and
// waits (bounded: a job notices at its next block boundary, but a hung device must not hang exit)
// until their threads are past Run(). Any thread (whichever calls exit()).
static void CancelAllAtExit() {
  JobRegistry& r = JobRegistry::Get();
  std::unique_lock<std::mutex> lk(r.mu);
  for (Job* j : r.running) j->RequestCancel();
  r.idle.wait_for(lk, std::chrono::seconds(5), [&] { return r.running.empty(); });
}

void Job::InstallExitHook() {
  static std::once_flag once;
  std::call_once(once, [] {
    JobRegistry::Get();
    std::atexit(CancelAllAtExit);
  });
}

// Environment teardown (process exit, worker termination), on that environment's JS thread: cancel
// its live jobs, join their threads so none outlives the environment (or the unloaded addon), and
// delete them. Once teardown has begun no batch is delivered to JS any more: the tsfns' own cleanup
// hooks close them, and node-addon-api drops items drained with env == nullptr without calling
// CallJs, so nothing else will delete these jobs. Jobs of other environments (workers) are left alone.
void Job::CancelAll(napi_env env) {
  std::vector<Job*> jobs;
  {
    std::lock_guard<std::mutex> lk(JobRegistry::Get().mu);
    for (Job* j : JobRegistry::Get().live) {
      if (j->env_ != env) continue;
      if (j->cancel_) j->cancel_->store(true);
      jobs.push_back(j);
    }
  }
  for (Job* j : jobs) {
    if (j->thread_.joinable()) j->thread_.join();  // jobs stop at their next cancellation check
    {
      std::lock_guard<std::mutex> lk(JobRegistry::Get().mu);
      JobRegistry::Get().live.erase(j);
    }
    Counters::liveJobs--;
    delete j;
  }
}

}  // namespace ds
