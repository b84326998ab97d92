// writeFileAtomic(tmp, target, dir, data) -> Promise: the atomic write of
// src/io/files.ts (temporary file, fsync, rename, fsync of the directory) as
// one job on libuv's thread pool, so that a training run goes on while a
// checkpoint reaches the disk and learns of it in one event-loop turn. A
// failure removes the temporary file and rejects with an Error whose errno
// (positive) and syscall properties src/io/files.ts turns into Node's own
// Error. The data is copied before the call returns (before, it was read in
// place on the pool's thread: a caller that transferred the Buffer's
// ArrayBuffer meanwhile had freed memory written to the file); the copy costs
// about a millisecond per 10 MB, once per checkpoint.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <string>
#include <vector>

#include "binding/args.h"

namespace deeprnn {
namespace {

class AtomicWrite : public Napi::AsyncWorker {
 public:
  AtomicWrite(Napi::Env env, std::string tmp, std::string target, std::string dir, Napi::Buffer<char> data)
      : Napi::AsyncWorker(env, "deeprnn.writeFileAtomic"),
        deferred_(Napi::Promise::Deferred::New(env)),
        tmp_(std::move(tmp)),
        target_(std::move(target)),
        dir_(std::move(dir)),
        data_(data.Data(), data.Data() + data.Length()) {}

  Napi::Promise promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    const int fd = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return fail("open");
    for (size_t off = 0; off < data_.size();) {
      const ssize_t n = ::write(fd, data_.data() + off, data_.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail_closing(fd, "write");
      off += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0) return fail_closing(fd, "fsync");
    if (::close(fd) != 0) return fail("close");
    if (::rename(tmp_.c_str(), target_.c_str()) != 0) return fail("rename");
    // Some filesystems cannot fsync a directory; the rename itself is done.
    const int dfd = ::open(dir_.c_str(), O_RDONLY | O_CLOEXEC);
    if (dfd >= 0) {
      (void)::fsync(dfd);
      ::close(dfd);
    }
  }

  // Settling fails when the thread's environment is being torn down (a
  // Worker terminated, process.exit mid-write): nothing is left to tell then,
  // and an exception out of here would end the process.
  void OnOK() override {
    try {
      deferred_.Resolve(Env().Undefined());
    } catch (const Napi::Error&) {
    }
  }

  void OnError(const Napi::Error&) override {
    try {
      Napi::Env env = Env();
      Napi::Error e = Napi::Error::New(env, "writeFileAtomic: " + syscall_ + " failed (errno " + std::to_string(errno_) + ")");
      e.Set("errno", Napi::Number::New(env, errno_));
      e.Set("syscall", Napi::String::New(env, syscall_));
      deferred_.Reject(e.Value());
    } catch (const Napi::Error&) {
    }
  }

 private:
  void fail(const char* syscall) {
    errno_ = errno;
    syscall_ = syscall;
    ::unlink(tmp_.c_str());
    SetError(syscall);
  }
  void fail_closing(int fd, const char* syscall) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    fail(syscall);
  }

  Napi::Promise::Deferred deferred_;
  std::string tmp_, target_, dir_;
  std::vector<char> data_;  // the caller's bytes as they were at the call
  int errno_ = 0;
  std::string syscall_;
};

Napi::Value WriteFileAtomic(const Napi::CallbackInfo& info) {
  Args a(info, "writeFileAtomic", 4);
  std::string path[3];
  const char* names[3] = {"tmp", "target", "dir"};
  for (int i = 0; i < 3; ++i) {
    if (!info[i].IsString()) throw a.error(a.what(names[i]) + " must be a string (a path)");
    path[i] = info[i].As<Napi::String>().Utf8Value();
    if (path[i].empty() || path[i].find('\0') != std::string::npos)
      throw a.error(a.what(names[i]) + " must be a path: not empty, no NUL character");
  }
  if (!info[3].IsTypedArray() || info[3].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw a.error(a.what("data") + " must be a Buffer (a Uint8Array)");
  auto* job = new AtomicWrite(info.Env(), path[0], path[1], path[2], info[3].As<Napi::Buffer<char>>());
  Napi::Promise p = job->promise();
  job->Queue();
  return p;
}

// outputGone(fd) -> whether poll says writing to fd can only fail: a pipe
// whose reader has gone (POLLERR), a socket closed (POLLHUP). For pipes and
// sockets (the caller checks what fd is: macOS's poll answers POLLNVAL for a
// terminal or /dev/null, which is not counted). A look, not a write: one
// system call, nothing changed (libuv notices a gone reader only at a write).
Napi::Value OutputGone(const Napi::CallbackInfo& info) {
  Args a(info, "outputGone", 1);
  const long fd = a.dim(0, "fd", 0, 1L << 30);
  pollfd p{static_cast<int>(fd), POLLOUT, 0};
  int r;
  do r = poll(&p, 1, 0);
  while (r < 0 && errno == EINTR);
  return Napi::Boolean::New(info.Env(), r > 0 && (p.revents & (POLLERR | POLLHUP)) != 0);
}

// The lock files (src/io/lock.ts) this thread's environment holds, by path,
// with the text each was written with. A Worker terminated during a run
// releases none of its own (no JavaScript runs after terminate()); when its
// environment is torn down each lock it still holds is removed here, if the
// file still holds that text (the lock may be another's since), so that the
// process can take it again (before, "in use by this process" until it ended:
// the holder's pid is the process's, which lives on).
struct HeldLocks {
  std::map<std::string, std::string> files;
};

void drop_held_locks(napi_env, void* data, void*) {
  auto* held = static_cast<HeldLocks*>(data);
  for (const auto& [file, text] : held->files) {
    // Non-blocking: a FIFO put there since would block the open until a writer came (its read then
    // gives nothing, as a directory's fails: neither holds the text). (No fstat to tell them: its
    // symbol is GLIBC_2.33's, above what the addon asks of the system.)
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) continue;
    std::string got(text.size() + 1, '\0');
    size_t n = 0;
    for (;;) {
      const ssize_t r = ::read(fd, &got[n], got.size() - n);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      n += static_cast<size_t>(r);
      if (n == got.size()) break;
    }
    ::close(fd);
    if (n == text.size() && got.compare(0, n, text) == 0) ::unlink(file.c_str());
  }
  delete held;
}

HeldLocks& held_locks(Napi::Env env) {
  void* data = nullptr;
  if (napi_get_instance_data(env, &data) != napi_ok) throw Napi::Error::New(env, "lockHeld: no instance data");
  if (data) return *static_cast<HeldLocks*>(data);
  auto* held = new HeldLocks();
  if (napi_set_instance_data(env, held, drop_held_locks, nullptr) != napi_ok) {
    delete held;
    throw Napi::Error::New(env, "lockHeld: could not keep the environment's locks");
  }
  return *held;
}

std::string path_arg(Args& a, const Napi::CallbackInfo& info, int i, const char* name) {
  if (!info[i].IsString()) throw a.error(a.what(name) + " must be a string");
  std::string s = info[i].As<Napi::String>().Utf8Value();
  if (s.empty() || s.find('\0') != std::string::npos) throw a.error(a.what(name) + " must not be empty or hold a NUL character");
  return s;
}

// lockHeld(file, text): this environment holds the lock `file`, written as `text`.
Napi::Value LockHeld(const Napi::CallbackInfo& info) {
  Args a(info, "lockHeld", 2);
  std::string file = path_arg(a, info, 0, "file");
  std::string text = path_arg(a, info, 1, "text");
  held_locks(info.Env()).files[file] = std::move(text);
  return info.Env().Undefined();
}

// lockDropped(file, text): the lock `file` taken as `text` is released (a
// later taking of the same path by this thread, another text, stays held).
Napi::Value LockDropped(const Napi::CallbackInfo& info) {
  Args a(info, "lockDropped", 2);
  const std::string file = path_arg(a, info, 0, "file");
  const std::string text = path_arg(a, info, 1, "text");
  auto& files = held_locks(info.Env()).files;
  const auto it = files.find(file);
  if (it != files.end() && it->second == text) files.erase(it);
  return info.Env().Undefined();
}

}  // namespace

void register_files(Napi::Env env, Napi::Object exports) {
  def<WriteFileAtomic>(env, exports, "writeFileAtomic");
  def<OutputGone>(env, exports, "outputGone");
  def<LockHeld>(env, exports, "lockHeld");
  def<LockDropped>(env, exports, "lockDropped");
}

}  // namespace deeprnn
