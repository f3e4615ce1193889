// Shared by the oneDNN operators: one engine and stream per process, deterministic primitives, a per-shape
// primitive cache and the checks every kernel makes of its Paddle tensors.
#pragma once

#include <map>
#include <mutex>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"
#include "paddle/extension.h"

namespace paddle_attn_onednn {

inline dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

inline dnnl::stream& cpu_stream() {
  static dnnl::stream stream(cpu_engine());
  return stream;
}

// Two identical training runs must give identical weights: no run-to-run varying reductions (oneDNN >= 3.4)
inline dnnl::primitive_attr deterministic() {
  dnnl::primitive_attr attr;
  attr.set_deterministic(true);
  return attr;
}

// One Entry per key (shape and parameters, from `g.key(kind)`), made from `g` on first use
template <typename Entry, typename Geometry>
Entry& cached(const Geometry& g, int64_t kind) {
  static std::mutex lock;
  static std::map<std::vector<int64_t>, Entry> cache;
  std::lock_guard<std::mutex> guard(lock);
  auto key = g.key(kind);
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, Entry(g)).first;
  return it->second;
}

// A user tensor and the layout a primitive chose for it; the buffer and reorder are made once per shape (weights
// are staged, never cached: training changes them every step)
struct Staged {
  dnnl::memory::desc user;
  bool reordered = false;
  dnnl::memory buffer;
  dnnl::reorder convert;

  Staged() = default;
  Staged(const dnnl::memory::desc& user_md, const dnnl::memory::desc& chosen, bool is_input) : user(user_md) {
    reordered = chosen != user_md;
    if (!reordered) return;
    buffer = dnnl::memory(chosen, cpu_engine());
    dnnl::memory user_mem(user_md, cpu_engine(), DNNL_MEMORY_NONE);
    convert = is_input ? dnnl::reorder(user_mem, buffer) : dnnl::reorder(buffer, user_mem);
  }
  // the memory the primitive reads, after converting the user's data into it if needed
  dnnl::memory input(void* data) {
    dnnl::memory user_mem(user, cpu_engine(), data);
    if (!reordered) return user_mem;
    convert.execute(cpu_stream(), user_mem, buffer);
    return buffer;
  }
  // the memory the primitive writes; `finish` copies it out to the user's tensor if needed
  dnnl::memory output(void* data) { return reordered ? buffer : dnnl::memory(user, cpu_engine(), data); }
  void finish(void* data) {
    if (!reordered) return;
    dnnl::memory user_mem(user, cpu_engine(), data);
    convert.execute(cpu_stream(), buffer, user_mem);
  }
};

inline void check_cpu_fp32(const paddle::Tensor& t, const char* op, const char* name) {
  PD_CHECK(t.is_cpu(), op, " runs on the CPU only: ", name);
  PD_CHECK(t.dtype() == paddle::DataType::FLOAT32, op, " is fp32 only: ", name);
}

inline float* mutable_data(const paddle::Tensor& t) { return const_cast<float*>(t.data<float>()); }

}  // namespace paddle_attn_onednn
