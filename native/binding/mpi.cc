// MPI for data-parallel training: the library is opened at run time (dlopen),
// never linked, so the addon loads and runs where no MPI is installed; only a
// process that an MPI launcher started asks for it (src/mpi.ts decides). The
// header found at build time fixes the ABI: an Open MPI build opens Open MPI's
// libmpi (its handles are the addresses of ompi_mpi_* globals, looked up with
// dlsym), an MPICH build MPICH's (its handles are constants).
//
// Every sum is deterministic; MPI_Allreduce is not used, since the order in
// which it adds is the implementation's, and may change with the message size
// or the network.
//  - mpiSum: each element summed in rank order (0 + x_0 + x_1 + ... + x_{P-1})
//    on the rank that owns its segment, then every segment sent to every rank
//    (a reduce-scatter and an allgather, the bytes of a ring allreduce).
//  - mpiChainSum, for gradients: the chunk gradients that lmTrainChunks kept,
//    added one process's way (0 + g_0 + g_1 + ... in chunk order) up the ranks
//    in order, segment by segment so that the ranks work as a pipeline, the
//    sums coming back down the same way. Where the ranks hold whole chunks of
//    a single process's batch the result is that process's gradient, bit for bit.
#include <dlfcn.h>
#include <link.h>

#include <cstring>
#include <string>
#include <vector>

#include "binding/args.h"
#include "kernels/lm.h"

#if DEEPRNN_MPI
// The C API alone (the C++ bindings would need their own library).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#define DEEPRNN_STR2(x) #x
#define DEEPRNN_STR(x) DEEPRNN_STR2(x)
#ifdef OPEN_MPI
#define DEEPRNN_MPI_NAME \
  "Open MPI " DEEPRNN_STR(OMPI_MAJOR_VERSION) "." DEEPRNN_STR(OMPI_MINOR_VERSION) "." DEEPRNN_STR(OMPI_RELEASE_VERSION)
#else
#define DEEPRNN_MPI_NAME "MPICH ABI (MPI " DEEPRNN_STR(MPI_VERSION) "." DEEPRNN_STR(MPI_SUBVERSION) ")"
#endif
#endif

namespace deeprnn {
namespace {

#if DEEPRNN_MPI

// What the addon needs of MPI, resolved from the opened library.
struct Mpi {
  void* lib = nullptr;
  std::string path;  // the file the dynamic loader opened
  bool initialized = false, finalized = false;
  int rank = 0, size = 1;
  MPI_Comm world{};
  MPI_Datatype f32{}, f64{};
  decltype(&MPI_Init_thread) init_thread = nullptr;
  decltype(&MPI_Comm_rank) comm_rank = nullptr;
  decltype(&MPI_Comm_size) comm_size = nullptr;
  decltype(&MPI_Alltoallv) alltoallv = nullptr;
  decltype(&MPI_Allgatherv) allgatherv = nullptr;
  decltype(&MPI_Barrier) barrier = nullptr;
  decltype(&MPI_Send) send = nullptr;
  decltype(&MPI_Recv) recv = nullptr;
  decltype(&MPI_Isend) isend = nullptr;
  decltype(&MPI_Wait) wait = nullptr;
  decltype(&MPI_Finalize) finalize = nullptr;
  decltype(&MPI_Abort) abort = nullptr;
  decltype(&MPI_Get_library_version) library_version = nullptr;
};

Mpi g_mpi;

template <typename F>
void resolve(const Args& a, F* f, const char* name) {
  *f = reinterpret_cast<F>(dlsym(g_mpi.lib, name));
  if (!*f) throw a.error(std::string("the MPI library ") + g_mpi.path + " has no " + name + " (is it the MPI deeprnn was built with, " +
                         DEEPRNN_MPI_NAME + "?)");
}

// Opens `file` (or the library found at build time, then its usual soname) and resolves every entry point.
void open_library(const Args& a, const std::string& file) {
  std::vector<std::string> tries;
  if (!file.empty()) tries.push_back(file);
  else {
    tries.push_back(DEEPRNN_MPI_LIBRARY);
    tries.push_back(DEEPRNN_MPI_SONAME);
  }
  std::string why;
  for (const std::string& t : tries) {
    // RTLD_GLOBAL: Open MPI's own plugins, opened later, resolve libmpi's symbols through it.
    g_mpi.lib = dlopen(t.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (g_mpi.lib) break;
    const char* e = dlerror();
    why += std::string(why.empty() ? "" : "; ") + (e ? e : t);
  }
  if (!g_mpi.lib) throw a.error("could not load the MPI library (" + why + ")");
  struct link_map* map = nullptr;
  g_mpi.path = dlinfo(g_mpi.lib, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name ? map->l_name : tries.back();
  resolve(a, &g_mpi.init_thread, "MPI_Init_thread");
  resolve(a, &g_mpi.comm_rank, "MPI_Comm_rank");
  resolve(a, &g_mpi.comm_size, "MPI_Comm_size");
  resolve(a, &g_mpi.alltoallv, "MPI_Alltoallv");
  resolve(a, &g_mpi.allgatherv, "MPI_Allgatherv");
  resolve(a, &g_mpi.barrier, "MPI_Barrier");
  resolve(a, &g_mpi.send, "MPI_Send");
  resolve(a, &g_mpi.recv, "MPI_Recv");
  resolve(a, &g_mpi.isend, "MPI_Isend");
  resolve(a, &g_mpi.wait, "MPI_Wait");
  resolve(a, &g_mpi.finalize, "MPI_Finalize");
  resolve(a, &g_mpi.abort, "MPI_Abort");
  resolve(a, &g_mpi.library_version, "MPI_Get_library_version");
#ifdef OPEN_MPI
  // Open MPI's handles are the addresses of its predefined objects.
  const char* objects[3] = {"ompi_mpi_comm_world", "ompi_mpi_float", "ompi_mpi_double"};
  void* at[3];
  for (int i = 0; i < 3; ++i) {
    at[i] = dlsym(g_mpi.lib, objects[i]);
    if (!at[i]) throw a.error("the MPI library " + g_mpi.path + " has no " + objects[i] + " (is it Open MPI?)");
  }
  g_mpi.world = static_cast<MPI_Comm>(at[0]);
  g_mpi.f32 = static_cast<MPI_Datatype>(at[1]);
  g_mpi.f64 = static_cast<MPI_Datatype>(at[2]);
#else
  g_mpi.world = MPI_COMM_WORLD;
  g_mpi.f32 = MPI_FLOAT;
  g_mpi.f64 = MPI_DOUBLE;
#endif
}

std::string library_version() {
  char v[MPI_MAX_LIBRARY_VERSION_STRING] = {0};
  int len = 0;
  if (g_mpi.library_version(v, &len) != MPI_SUCCESS) return "";
  std::string s(v, static_cast<size_t>(len));
  const size_t end = s.find_first_of(",\n");  // "Open MPI v4.1.4, package: ..." -> its first part
  return end == std::string::npos ? s : s.substr(0, end);
}

void check_ready(const Args& a) {
  if (!g_mpi.initialized) throw a.error("MPI is not initialised (call mpiInit first)");
  if (g_mpi.finalized) throw a.error("MPI has been finalised");
}

// x += the same array on every other rank, each element summed in rank order.
template <typename T>
void ordered_sum(const Args& a, T* x, long n, MPI_Datatype type) {
  const int P = g_mpi.size, me = g_mpi.rank;
  if (P == 1) return;
  // Segment s (elements [n*s/P, n*(s+1)/P)) is summed by rank s.
  std::vector<int> count(P), disp(P), rcount(P), rdisp(P);
  for (int s = 0; s < P; ++s) {
    const long s0 = n * s / P, s1 = n * (s + 1) / P;
    count[s] = static_cast<int>(s1 - s0);
    disp[s] = static_cast<int>(s0);
  }
  const int mine = count[me];
  for (int r = 0; r < P; ++r) {
    rcount[r] = mine;
    rdisp[r] = r * mine;
  }
  static thread_local std::vector<T> recv;
  recv.resize(static_cast<size_t>(P) * static_cast<size_t>(mine > 0 ? mine : 1));
  if (g_mpi.alltoallv(x, count.data(), disp.data(), type, recv.data(), rcount.data(), rdisp.data(), type, g_mpi.world) != MPI_SUCCESS)
    throw a.error("MPI_Alltoallv failed");
  T* seg = x + disp[me];
  for (int i = 0; i < mine; ++i) {
    T v = T(0);
    for (int r = 0; r < P; ++r) v += recv[static_cast<size_t>(r) * mine + i];
    seg[i] = v;
  }
  if (g_mpi.allgatherv(MPI_IN_PLACE, 0, type, x, count.data(), disp.data(), type, g_mpi.world) != MPI_SUCCESS)
    throw a.error("MPI_Allgatherv failed");
}

// Floats per message of the chain: small enough that the ranks overlap (the
// chain fills in P-1 segments), large enough to amortise a message's latency.
constexpr long kChainSegment = 1L << 16;

// x = the kept chunk gradients of every rank, added in rank order, chunk after
// chunk. Segment k goes up the ranks (rank r receives the sum so far from r-1,
// adds its chunks, sends it to r+1); the last rank's sum comes back down the
// same way. Both directions of every link carry a segment at once, so a rank
// sends and receives about the gradient's bytes each way, as in a ring allreduce.
void chain_sum(const Args& a, float* x, long n, bool kept) {
  const int P = g_mpi.size, me = g_mpi.rank;
  const bool top = me == P - 1;
  const long segments = (n + kChainSegment - 1) / kChainSegment;
  std::vector<MPI_Request> up(static_cast<size_t>(segments)), down(static_cast<size_t>(segments));
  std::vector<char> up_sent(static_cast<size_t>(segments), 0), down_sent(static_cast<size_t>(segments), 0);
  auto seg = [&](long k, long* len) {
    const long s0 = k * kChainSegment;
    *len = n - s0 < kChainSegment ? n - s0 : kChainSegment;
    return x + s0;
  };
  auto check = [&](int rc, const char* what) {
    if (rc != MPI_SUCCESS) throw a.error(std::string(what) + " failed");
  };
  // The final sum of segment k from the rank above, passed on to the rank below.
  auto come_down = [&](long k) {
    long len;
    float* p = seg(k, &len);
    if (up_sent[k]) check(g_mpi.wait(&up[k], MPI_STATUS_IGNORE), "MPI_Wait");  // p is about to be overwritten
    check(g_mpi.recv(p, static_cast<int>(len), g_mpi.f32, me + 1, 1, g_mpi.world, MPI_STATUS_IGNORE), "MPI_Recv");
    if (me > 0) {
      check(g_mpi.isend(p, static_cast<int>(len), g_mpi.f32, me - 1, 1, g_mpi.world, &down[k]), "MPI_Isend");
      down_sent[k] = 1;
    }
  };
  for (long k = 0; k < segments; ++k) {
    long len;
    float* p = seg(k, &len);
    if (me == 0) std::memset(p, 0, sizeof(float) * len);  // +0, as grads starts a batch
    else check(g_mpi.recv(p, static_cast<int>(len), g_mpi.f32, me - 1, 0, g_mpi.world, MPI_STATUS_IGNORE), "MPI_Recv");
    if (kept) add_kept_chunks(p, k * kChainSegment, len);
    if (!top) {
      check(g_mpi.isend(p, static_cast<int>(len), g_mpi.f32, me + 1, 0, g_mpi.world, &up[k]), "MPI_Isend");
      up_sent[k] = 1;
      if (k > 0) come_down(k - 1);
    } else if (me > 0) {
      check(g_mpi.isend(p, static_cast<int>(len), g_mpi.f32, me - 1, 1, g_mpi.world, &down[k]), "MPI_Isend");
      down_sent[k] = 1;
    }
  }
  if (!top && segments > 0) come_down(segments - 1);
  // (Every send up was waited for before its segment came down.)
  for (long k = 0; k < segments; ++k)
    if (down_sent[k]) check(g_mpi.wait(&down[k], MPI_STATUS_IGNORE), "MPI_Wait");
  drop_kept_chunks();
}

#endif  // DEEPRNN_MPI

Napi::Object mpi_info(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
#if DEEPRNN_MPI
  o.Set("built", Napi::Boolean::New(env, true));
  o.Set("header", Napi::String::New(env, DEEPRNN_MPI_NAME));
  o.Set("library", g_mpi.lib ? Napi::Value(Napi::String::New(env, g_mpi.path)) : env.Null());
  o.Set("version", g_mpi.initialized ? Napi::Value(Napi::String::New(env, library_version())) : env.Null());
  o.Set("initialized", Napi::Boolean::New(env, g_mpi.initialized && !g_mpi.finalized));
  o.Set("rank", Napi::Number::New(env, g_mpi.rank));
  o.Set("size", Napi::Number::New(env, g_mpi.size));
#else
  o.Set("built", Napi::Boolean::New(env, false));
  o.Set("header", env.Null());
  o.Set("library", env.Null());
  o.Set("version", env.Null());
  o.Set("initialized", Napi::Boolean::New(env, false));
  o.Set("rank", Napi::Number::New(env, 0));
  o.Set("size", Napi::Number::New(env, 1));
#endif
  return o;
}

// mpiInfo() -> { built, header, library, version, initialized, rank, size }
Napi::Value MpiInfo(const Napi::CallbackInfo& info) {
  Args a(info, "mpiInfo", 0);
  return mpi_info(info.Env());
}

// mpiInit(library): opens the MPI library (a path or soname; "" for the one found at build
// time) and initialises MPI; the thread that calls it makes every later MPI call.
Napi::Value MpiInit(const Napi::CallbackInfo& info) {
  Args a(info, "mpiInit", 1);
  if (!info[0].IsString()) throw a.error("argument \"library\" must be a string");
#if DEEPRNN_MPI
  if (g_mpi.initialized) throw a.error("MPI is initialised already (once per process)");
  open_library(a, info[0].As<Napi::String>().Utf8Value());
  int provided = 0;
  // Serialized: the training thread is a worker thread, not the process's first one.
  if (g_mpi.init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
    throw a.error("MPI_Init_thread failed");
  g_mpi.initialized = true;
  g_mpi.comm_rank(g_mpi.world, &g_mpi.rank);
  g_mpi.comm_size(g_mpi.world, &g_mpi.size);
  return mpi_info(info.Env());
#else
  throw a.error("this build of deeprnn has no MPI support (no MPI was found when the addon was built)");
#endif
}

// mpiSum(x): x (Float32Array or Float64Array) becomes the sum of x over the ranks, the same
// bits on every rank; each element is added in rank order.
Napi::Value MpiSum(const Napi::CallbackInfo& info) {
  Args a(info, "mpiSum", 1);
  const Napi::Value v = info[0];
  const bool ok = v.IsTypedArray() && (v.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array ||
                                       v.As<Napi::TypedArray>().TypedArrayType() == napi_float64_array);
  if (!ok) throw a.error("argument \"x\" must be a Float32Array or a Float64Array");
  Napi::TypedArray t = v.As<Napi::TypedArray>();
  void* data = a.data(t, "x", t.TypedArrayType() == napi_float32_array ? "Float32Array" : "Float64Array");
  if (t.ElementLength() > 0x7fffffffL) throw a.error("argument \"x\" has more than 2^31-1 elements");
#if DEEPRNN_MPI
  check_ready(a);
  const long n = static_cast<long>(t.ElementLength());
  if (t.TypedArrayType() == napi_float32_array) ordered_sum(a, static_cast<float*>(data), n, g_mpi.f32);
  else ordered_sum(a, static_cast<double*>(data), n, g_mpi.f64);
  return info.Env().Undefined();
#else
  (void)data;
  throw a.error("this build of deeprnn has no MPI support");
#endif
}

// mpiChainSum(x, kept): x (Float32Array, the model's P floats) becomes the sum over the ranks of
// the chunk gradients the last lmTrainChunks with keep left on this thread (none when kept is
// false: a rank without windows in this batch), added in rank order and chunk order.
Napi::Value MpiChainSum(const Napi::CallbackInfo& info) {
  Args a(info, "mpiChainSum", 2);
  long n = 0;
  float* x = a.f32_any(0, "x", &n);
  const bool kept = a.boolean(1, "kept");
#if DEEPRNN_MPI
  check_ready(a);
  if (kept && kept_params() != n)
    throw a.error(kept_params() < 0 ? std::string("no chunk gradients are kept (call lmTrainChunks with keep: true first)")
                                    : "argument \"x\" has " + std::to_string(n) + " floats but the kept chunk gradients have " +
                                          std::to_string(kept_params()));
  chain_sum(a, x, n, kept);
  return info.Env().Undefined();
#else
  (void)x;
  (void)kept;
  throw a.error("this build of deeprnn has no MPI support");
#endif
}

// mpiBarrier(): returns when every rank has called it.
Napi::Value MpiBarrier(const Napi::CallbackInfo& info) {
  Args a(info, "mpiBarrier", 0);
#if DEEPRNN_MPI
  check_ready(a);
  if (g_mpi.barrier(g_mpi.world) != MPI_SUCCESS) throw a.error("MPI_Barrier failed");
  return info.Env().Undefined();
#else
  throw a.error("this build of deeprnn has no MPI support");
#endif
}

// mpiFinalize(): the last MPI call of the process (a no-op when MPI was never initialised).
Napi::Value MpiFinalize(const Napi::CallbackInfo& info) {
  Args a(info, "mpiFinalize", 0);
#if DEEPRNN_MPI
  if (g_mpi.initialized && !g_mpi.finalized) {
    g_mpi.finalized = true;
    g_mpi.finalize();
  }
#endif
  return info.Env().Undefined();
}

// mpiAbort(code): ends every rank of the job (after an error on this one that the others cannot see).
Napi::Value MpiAbort(const Napi::CallbackInfo& info) {
  Args a(info, "mpiAbort", 1);
  const int code = static_cast<int>(a.dim(0, "code", 0, 255));
#if DEEPRNN_MPI
  check_ready(a);
  g_mpi.abort(g_mpi.world, code);
#endif
  (void)code;
  return info.Env().Undefined();
}

}  // namespace

void register_mpi(Napi::Env env, Napi::Object exports) {
  def<MpiInfo>(env, exports, "mpiInfo");
  def<MpiInit>(env, exports, "mpiInit");
  def<MpiSum>(env, exports, "mpiSum");
  def<MpiChainSum>(env, exports, "mpiChainSum");
  def<MpiBarrier>(env, exports, "mpiBarrier");
  def<MpiFinalize>(env, exports, "mpiFinalize");
  def<MpiAbort>(env, exports, "mpiAbort");
}

}  // namespace deeprnn
