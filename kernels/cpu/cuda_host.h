// cuda_host.h: build a CUDA C++ kernel source, unchanged, for the host (g++ -std=c++20 -pthread),
// so its logic runs on a machine without a GPU. Written for masktrt from the CUDA programming
// model's rules (CUDA C++ Programming Guide: execution configuration, built-in variables,
// __syncthreads, atomic functions, intrinsic functions); no code taken from other projects.
//
// Execution model (masktrt_host_launch below, called by kernels/host_module.py):
// - a grid's blocks run one after another; the threads of a block run concurrently, one OS
//   thread each (up to 1024), so barriers and data races are real (and ThreadSanitizer sees them);
// - threadIdx/blockIdx/blockDim/gridDim are thread_local built-ins set by the launcher;
// - __shared__ variables are static storage: one instance, shared by the threads of the block
//   that is running (blocks never overlap when the kernel uses __shared__ or __syncthreads);
// - __syncthreads() is a barrier across the block's threads that have not returned yet; it is
//   also a full memory fence (mutex), as on the GPU for shared and global memory;
// - "overlapped" launches (kernels that use neither __shared__ nor __syncthreads, decided from
//   the source by kernels/host_module.py): thread t of every block runs in one OS thread, block after
//   block, without a rendezvous between blocks, so different blocks overlap in time, which CUDA
//   allows (blocks are unordered); it avoids 256 context switches per block;
// - schedules: any interleaving is legal for a correct kernel. Flag 1 ("thread 0 last") starts
//   thread 0 of each lockstep block only once the block's other threads wait at a barrier or have
//   returned: a missing __syncthreads after a thread-0-only section then fails every time instead
//   of now and then (tests/kernels/test_cpu_layer.py);
// - atomics are sequentially consistent std::atomic_ref operations (at least as strong as CUDA's
//   relaxed device-scope atomics); atomicMin/Max are compare-exchange loops;
// - floating point follows IEEE-754 with round-to-nearest (x86-64 SSE, built with
//   -ffp-contract=off like NVRTC's --fmad=false); the __f*_rn intrinsics are exact, __fmaf_rn is a
//   true fused multiply-add (fmaf).
//
// Not covered (a kernel that needs one of these does not compile or says so): warp-level
// primitives (__shfl_*, __ballot_sync, __any/__all_sync, __activemask, warp-synchronous code
// relying on 32-lane lockstep; the kernels here use none), cooperative groups, dynamic
// parallelism, dynamic shared memory (extern __shared__), texture/surface memory, __constant__
// memory, streams and events (a launch is synchronous), cuda_fp16.h/bf16 types, the fast
// approximate intrinsics' exact GPU rounding (__expf etc. map to the libm function), printf's
// ordering, clock()/timing, memory scopes and fences other than __syncthreads/__threadfence
// (mapped to seq_cst fences), and volatile as a memory-model operation: the GPU treats volatile
// loads as relaxed atomic ("morally strong") accesses, C++ does not, so ThreadSanitizer reports
// volatile reads that race with atomics (kernels/cpu/tsan.supp lists the one such pattern).
#pragma once

#include <math.h>

#include <atomic>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

// ---- qualifiers --------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __shared__ static
#define __launch_bounds__(...)

// ---- vector types and built-in variables -------------------------------------------------------
struct uint3 { unsigned x, y, z; };
struct dim3 { unsigned x = 1, y = 1, z = 1; };
struct alignas(8) int2 { int x, y; };
struct alignas(8) float2 { float x, y; };
static inline int2 make_int2(int x, int y) { return int2{x, y}; }
static inline float2 make_float2(float x, float y) { return float2{x, y}; }

static thread_local uint3 threadIdx;
static thread_local uint3 blockIdx;
static thread_local dim3 blockDim;
static thread_local dim3 gridDim;
static constexpr int warpSize = 32;

// ---- integer and float helpers the CUDA math API puts in device code -------------------------------
static inline int min(int a, int b) { return a < b ? a : b; }
static inline int max(int a, int b) { return a > b ? a : b; }
static inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
static inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
static inline long long min(long long a, long long b) { return a < b ? a : b; }
static inline long long max(long long a, long long b) { return a > b ? a : b; }
static inline float min(float a, float b) { return fminf(a, b); }
static inline float max(float a, float b) { return fmaxf(a, b); }
static inline double min(double a, double b) { return fmin(a, b); }
static inline double max(double a, double b) { return fmax(a, b); }

static inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
static inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
static inline int __popc(unsigned x) { return __builtin_popcount(x); }
static inline int __ffs(int x) { return __builtin_ffs(x); }

// Round to nearest even; NaN -> 0, out of range saturates (the GPU's cvt.rni.s32.f32).
static inline int __float2int_rn(float x) {
    if (x != x) return 0;
    if (x >= 2147483648.0f) return INT_MAX;
    if (x < -2147483648.0f) return INT_MIN;
    return (int)nearbyintf(x);
}
static inline int __float2int_rz(float x) {
    if (x != x) return 0;
    if (x >= 2147483648.0f) return INT_MAX;
    if (x < -2147483648.0f) return INT_MIN;
    return (int)x;
}
static inline float __int2float_rn(int x) { return (float)x; }

// Explicitly rounded IEEE operations: never contracted (built with -ffp-contract=off).
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fdiv_rn(float a, float b) { return a / b; }
static inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
static inline double __dadd_rn(double a, double b) { return a + b; }
static inline double __dmul_rn(double a, double b) { return a * b; }
static inline double __fma_rn(double a, double b, double c) { return fma(a, b, c); }
static inline float __saturatef(float x) { return x != x ? 0.f : (x < 0.f ? 0.f : (x > 1.f ? 1.f : x)); }
// Fast approximate intrinsics: the libm function (the GPU's result may differ in the last bits).
// (glibc declares __expf/__logf itself: the CUDA names are macros onto differently named functions.)
static inline float cuda_host_expf(float x) { return expf(x); }
static inline float cuda_host_logf(float x) { return logf(x); }
#define __expf cuda_host_expf
#define __logf cuda_host_logf
static inline float __fdividef(float a, float b) { return a / b; }

// ---- atomics: std::atomic_ref on the plain memory the kernel names --------------------------------
template <class T> static inline T cuda_host_atomic_min(T* p, T v) {
    std::atomic_ref<T> a(*p);
    T old = a.load();
    while (v < old && !a.compare_exchange_weak(old, v)) {}
    return old;
}
template <class T> static inline T cuda_host_atomic_max(T* p, T v) {
    std::atomic_ref<T> a(*p);
    T old = a.load();
    while (v > old && !a.compare_exchange_weak(old, v)) {}
    return old;
}
static inline int atomicMin(int* p, int v) { return cuda_host_atomic_min(p, v); }
static inline unsigned atomicMin(unsigned* p, unsigned v) { return cuda_host_atomic_min(p, v); }
static inline long long atomicMin(long long* p, long long v) { return cuda_host_atomic_min(p, v); }
static inline unsigned long long atomicMin(unsigned long long* p, unsigned long long v) { return cuda_host_atomic_min(p, v); }
static inline int atomicMax(int* p, int v) { return cuda_host_atomic_max(p, v); }
static inline unsigned atomicMax(unsigned* p, unsigned v) { return cuda_host_atomic_max(p, v); }
static inline long long atomicMax(long long* p, long long v) { return cuda_host_atomic_max(p, v); }
static inline unsigned long long atomicMax(unsigned long long* p, unsigned long long v) { return cuda_host_atomic_max(p, v); }

static inline int atomicAdd(int* p, int v) { return std::atomic_ref<int>(*p).fetch_add(v); }
static inline unsigned atomicAdd(unsigned* p, unsigned v) { return std::atomic_ref<unsigned>(*p).fetch_add(v); }
static inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) {
    return std::atomic_ref<unsigned long long>(*p).fetch_add(v);  // wraps modulo 2^64, as on the GPU
}
static inline float atomicAdd(float* p, float v) { return std::atomic_ref<float>(*p).fetch_add(v); }
static inline double atomicAdd(double* p, double v) { return std::atomic_ref<double>(*p).fetch_add(v); }

template <class T> static inline T cuda_host_atomic_cas(T* p, T compare, T v) {
    std::atomic_ref<T>(*p).compare_exchange_strong(compare, v);
    return compare;  // the old value, whether or not it was replaced
}
static inline int atomicCAS(int* p, int c, int v) { return cuda_host_atomic_cas(p, c, v); }
static inline unsigned atomicCAS(unsigned* p, unsigned c, unsigned v) { return cuda_host_atomic_cas(p, c, v); }
static inline unsigned long long atomicCAS(unsigned long long* p, unsigned long long c, unsigned long long v) {
    return cuda_host_atomic_cas(p, c, v);
}
static inline int atomicExch(int* p, int v) { return std::atomic_ref<int>(*p).exchange(v); }
static inline unsigned atomicExch(unsigned* p, unsigned v) { return std::atomic_ref<unsigned>(*p).exchange(v); }
static inline unsigned long long atomicExch(unsigned long long* p, unsigned long long v) {
    return std::atomic_ref<unsigned long long>(*p).exchange(v);
}
static inline float atomicExch(float* p, float v) { return std::atomic_ref<float>(*p).exchange(v); }
static inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
static inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }

// ---- the block barrier ----------------------------------------------------------------------------
namespace cuda_host {

// A reusable barrier whose participants may leave (a thread that returned from the kernel no
// longer takes part in the block's later __syncthreads). Mutex + condition variable, so it is
// also the memory fence __syncthreads is, and ThreadSanitizer understands it.
class Barrier {
public:
    void reset(unsigned n) {
        std::lock_guard<std::mutex> lock(m_);
        expected_ = n;
        arrived_ = 0;
    }
    void arrive_and_wait() {
        std::unique_lock<std::mutex> lock(m_);
        unsigned long long gen = generation_;
        if (++arrived_ == expected_) return release();
        cv_.notify_all();  // wakes a thread waiting in wait_for_others
        cv_.wait(lock, [&] { return generation_ != gen; });
    }
    void arrive_and_drop() {
        std::lock_guard<std::mutex> lock(m_);
        --expected_;
        if (arrived_ == expected_ && arrived_ > 0) release();
        else cv_.notify_all();
    }
    // Until every other participant waits at the barrier or has left (the "thread 0 last" schedule).
    void wait_for_others() {
        std::unique_lock<std::mutex> lock(m_);
        cv_.wait(lock, [&] { return arrived_ + 1 >= expected_; });
    }

private:
    void release() {  // with m_ held
        arrived_ = 0;
        ++generation_;
        cv_.notify_all();
    }
    std::mutex m_;
    std::condition_variable cv_;
    unsigned expected_ = 0, arrived_ = 0;
    unsigned long long generation_ = 0;
};

static thread_local Barrier* block_barrier = nullptr;  // null: overlapped launch (no barrier)

}  // namespace cuda_host

static inline void __syncthreads() {
    if (cuda_host::block_barrier == nullptr) {
        // host_module.py decided from the source that this kernel needs no barrier: it was wrong.
        std::fputs("cuda_host.h: __syncthreads() in a launch without a block barrier\n", stderr);
        std::abort();
    }
    cuda_host::block_barrier->arrive_and_wait();
}

// ---- the grid launcher ----------------------------------------------------------------------------
namespace cuda_host {

struct Launch {
    dim3 grid, block;
    bool lockstep;  // blocks one after another with a rendezvous (kernel uses __shared__/__syncthreads)
    bool thread0_last;  // lockstep: thread 0 of a block starts once the others wait or have returned
    Barrier sync, block_end;
};

static inline uint3 unflatten(unsigned long long i, dim3 d) {
    return uint3{unsigned(i % d.x), unsigned(i / d.x % d.y), unsigned(i / d.x / d.y)};
}

// One OS thread = thread `t` of every block, in block order.
template <class F> static void run_thread(Launch& L, unsigned t, F& body) {
    unsigned long long blocks = 1ULL * L.grid.x * L.grid.y * L.grid.z;
    unsigned threads = L.block.x * L.block.y * L.block.z;
    threadIdx = unflatten(t, L.block);
    blockDim = L.block;
    gridDim = L.grid;
    block_barrier = L.lockstep ? &L.sync : nullptr;
    L.block_end.arrive_and_wait();  // start gate: no thread runs ahead while the others are created
    for (unsigned long long b = 0; b < blocks; ++b) {
        blockIdx = unflatten(b, L.grid);
        if (L.lockstep && L.thread0_last && t == 0) L.sync.wait_for_others();
        body();
        if (!L.lockstep) continue;
        L.sync.arrive_and_drop();       // this thread has returned for this block
        L.block_end.arrive_and_wait();  // every thread has: the block is over
        if (t == 0) L.sync.reset(threads);
        L.block_end.arrive_and_wait();  // the next block starts with a fresh barrier
    }
}

static std::mutex launch_mutex;  // one launch at a time per library: __shared__ storage is static

// cuLaunchKernel's contract: args[i] points at the i-th parameter's value; values are copied.
template <class... A, std::size_t... I>
static int launch_impl(void (*fn)(A...), const unsigned* g, const unsigned* b, void** args,
                       bool lockstep, bool thread0_last, std::index_sequence<I...>) {
    std::tuple<std::decay_t<A>...> params(*static_cast<std::decay_t<A>*>(args[I])...);
    Launch L{dim3{g[0], g[1], g[2]}, dim3{b[0], b[1], b[2]}, lockstep, thread0_last, {}, {}};
    unsigned threads = b[0] * b[1] * b[2];
    if (threads == 0 || threads > 1024 || b[2] > 64 || g[0] == 0 || g[1] == 0 || g[2] == 0) return 1;
    std::lock_guard<std::mutex> lock(launch_mutex);
    L.sync.reset(threads);
    L.block_end.reset(threads);
    auto body = [&] { fn(std::get<I>(params)...); };
    std::vector<std::thread> pool;
    pool.reserve(threads);
    for (unsigned t = 0; t < threads; ++t) pool.emplace_back([&, t] { run_thread(L, t, body); });
    for (auto& th : pool) th.join();
    return 0;
}

template <class... A>
static int launch(void (*fn)(A...), const unsigned* g, const unsigned* b, void** args, bool lockstep,
                  int flags) {
    return launch_impl(fn, g, b, args, lockstep, (flags & 1) != 0, std::index_sequence_for<A...>{});
}

}  // namespace cuda_host
