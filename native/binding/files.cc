// writeFileAtomic(tmp, target, dir, data) -> Promise: the atomic write of
// src/io/files.ts (temporary file, fsync, rename, fsync of the directory) as
// one job on libuv's thread pool, so that a training run goes on while a
// checkpoint reaches the disk and learns of it in one event-loop turn. A
// failure removes the temporary file and rejects with an Error whose errno
// (positive) and syscall properties src/io/files.ts turns into Node's own
// Error. The data is read in place: the caller keeps the Buffer alive (a
// reference here does) and must not detach or transfer its ArrayBuffer until
// the promise settles.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <string>

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
        data_(data.Data()),
        size_(data.Length()),
        keep_(Napi::Persistent(data.As<Napi::Object>())) {}

  Napi::Promise promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    const int fd = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return fail("open");
    for (size_t off = 0; off < size_;) {
      const ssize_t n = ::write(fd, data_ + off, size_ - off);
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
  const char* data_;
  size_t size_;
  Napi::ObjectReference keep_;  // the data stays alive until the job ends
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

}  // namespace

void register_files(Napi::Env env, Napi::Object exports) {
  def<WriteFileAtomic>(env, exports, "writeFileAtomic");
  def<OutputGone>(env, exports, "outputGone");
}

}  // namespace deeprnn
