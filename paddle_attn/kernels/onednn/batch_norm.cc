// onednn_batch_norm: Paddle custom operator running fp32 NCHW batch normalization (training forward with batch
// statistics and the running-average update, inference forward with the running statistics, backward), optionally
// with the following ReLU fused in, on the oneDNN that Paddle's CPU wheel ships.
#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "batch_norm_loops.h"
#include "onednn_common.h"

namespace batch_norm_op {  // named: onednn_ops.cc compiles every operator in one unit

using namespace paddle_attn_onednn;
using dnnl::memory;
using dnnl::normalization_flags;

// Activation layouts the primitives may compute in (user tensors are always NCHW): oneDNN's NCHW kernel is generic
// C++, its blocked one JIT-compiled but costs reorders (benchmarks/onednn_batch_norm.py). Not NHWC: oneDNN 3.6's
// NHWC kernel with the fused ReLU gave wrong input gradients at 64x64x32x32 (0.15 relative), as did the blocked and
// NCHW ones now and then at 64x128x32x32 and larger: batch_norm.py refuses the fused ReLU until that is understood.
// kChannelLoops: no oneDNN primitive, the plain loops of batch_norm_loops.h
enum LayoutMode { kPlainNchw = 0, kBlocked = 1, kChannelLoops = 2 };

// Everything that fixes a batch norm's primitives; also the cache key
struct BnGeometry {
  memory::dims src;
  float epsilon;
  bool global_stats, fuse_relu;
  int64_t mode;

  std::vector<int64_t> key(int64_t kind) const {
    std::vector<int64_t> k{kind, global_stats, fuse_relu, mode};
    k.insert(k.end(), src.begin(), src.end());
    float eps = epsilon;
    int32_t eps_bits;
    std::memcpy(&eps_bits, &eps, sizeof eps_bits);
    k.push_back(eps_bits);
    return k;
  }
  batch_norm_loops::Shape loops_shape() const { return {src[0], src[1], src[2] * src[3]}; }
  memory::desc user_act() const { return {src, memory::data_type::f32, memory::format_tag::nchw}; }
  memory::desc act() const {
    if (mode == kPlainNchw) return user_act();
    bool avx512 = dnnl::get_effective_cpu_isa() >= dnnl::cpu_isa::avx512_core;  // the JIT kernels' vector width
    return {src, memory::data_type::f32, avx512 ? memory::format_tag::nChw16c : memory::format_tag::nChw8c};
  }
  normalization_flags flags() const {
    auto f = normalization_flags::use_scale | normalization_flags::use_shift;
    if (global_stats) f |= normalization_flags::use_global_stats;
    if (fuse_relu) f |= normalization_flags::fuse_norm_relu;
    return f;
  }
  // forward_training even with the running statistics: the fused ReLU's backward needs the workspace it writes
  dnnl::batch_normalization_forward::primitive_desc forward_desc() const {
    return {cpu_engine(), dnnl::prop_kind::forward_training, act(), act(), epsilon, flags(), deterministic()};
  }
};

BnGeometry make_geometry(const paddle::Tensor& x, float epsilon, bool training, bool fuse_relu, int mode) {
  auto shape = x.shape();
  PD_CHECK(shape.size() == 4, "onednn_batch_norm wants a 4-D NCHW input");
  PD_CHECK(mode >= kPlainNchw && mode <= kChannelLoops, "onednn_batch_norm: unknown layout mode");
  PD_CHECK(!(fuse_relu && mode == kChannelLoops), "onednn_batch_norm: the channel loops fuse no ReLU");
  return {{shape[0], shape[1], shape[2], shape[3]}, epsilon, !training, fuse_relu, mode};
}

struct BnForward {
  dnnl::batch_normalization_forward::primitive_desc pd;
  dnnl::batch_normalization_forward bn;
  Staged src, dst;
  explicit BnForward(const BnGeometry& g)
      : pd(g.forward_desc()), bn(pd), src(g.user_act(), g.act(), true), dst(g.user_act(), g.act(), false) {}
};

struct BnBackward {
  dnnl::batch_normalization_backward bn;
  Staged src, diff_dst, diff_src;
  explicit BnBackward(const BnGeometry& g)
      : src(g.user_act(), g.act(), true), diff_dst(g.user_act(), g.act(), true), diff_src(g.user_act(), g.act(), false) {
    dnnl::batch_normalization_backward::primitive_desc pd(cpu_engine(), dnnl::prop_kind::backward, g.act(), g.act(),
                                                          g.act(), g.epsilon, g.flags(), g.forward_desc(),
                                                          deterministic());
    bn = dnnl::batch_normalization_backward(pd);
  }
};

memory channel_memory(const paddle::Tensor& t) {
  return memory({{t.numel()}, memory::data_type::f32, memory::format_tag::x}, cpu_engine(), mutable_data(t));
}

// The fused ReLU's bit mask, which the backward reads; one unused byte without the fusion
paddle::Tensor make_workspace(const BnForward& f, const paddle::Place& place) {
  int64_t bytes = std::max<int64_t>(f.pd.workspace_desc().get_size(), 1);
  return paddle::empty({bytes}, paddle::DataType::UINT8, place);
}

// Paddle's convention: running = momentum * running + (1 - momentum) * batch, with the biased batch variance
void update_running(const paddle::Tensor& running_mean, const paddle::Tensor& running_var,
                    const paddle::Tensor& batch_mean, const paddle::Tensor& batch_var, float momentum, bool training) {
  if (!training) return;
  float* mean = mutable_data(running_mean);
  float* var = mutable_data(running_var);
  const float* new_mean = batch_mean.data<float>();
  const float* new_var = batch_var.data<float>();
  for (int64_t c = 0; c < running_mean.numel(); ++c) {
    mean[c] = momentum * mean[c] + (1.0f - momentum) * new_mean[c];
    var[c] = momentum * var[c] + (1.0f - momentum) * new_var[c];
  }
}

std::vector<paddle::Tensor> forward_unchecked(const paddle::Tensor& x, const paddle::Tensor& scale,
                                              const paddle::Tensor& shift, const paddle::Tensor& running_mean,
                                              const paddle::Tensor& running_var, float epsilon, float momentum,
                                              bool training, bool fuse_relu, int mode) {
  check_cpu_fp32(x, "onednn_batch_norm", "X");
  auto g = make_geometry(x, epsilon, training, fuse_relu, mode);
  int64_t channels = g.src[1];
  std::vector<const paddle::Tensor*> per_channel{&scale, &shift, &running_mean, &running_var};
  for (const auto* t : per_channel) {
    check_cpu_fp32(*t, "onednn_batch_norm", "a per-channel input");
    PD_CHECK(t->numel() == channels, "onednn_batch_norm: a per-channel input does not have C elements");
  }
  auto y = paddle::empty(x.shape(), paddle::DataType::FLOAT32, x.place());
  auto saved_mean = paddle::empty({channels}, paddle::DataType::FLOAT32, x.place());
  auto saved_var = paddle::empty({channels}, paddle::DataType::FLOAT32, x.place());
  if (!training) {  // the backward normalizes with what the forward used
    std::copy_n(running_mean.data<float>(), channels, saved_mean.data<float>());
    std::copy_n(running_var.data<float>(), channels, saved_var.data<float>());
  }
  if (mode == kChannelLoops) {
    batch_norm_loops::forward(g.loops_shape(), x.data<float>(), scale.data<float>(),
                              shift.data<float>(), mutable_data(saved_mean), mutable_data(saved_var), epsilon,
                              training, y.data<float>());
    update_running(running_mean, running_var, saved_mean, saved_var, momentum, training);
    return {y, saved_mean, saved_var, paddle::empty({1}, paddle::DataType::UINT8, x.place())};
  }
  auto& f = cached<BnForward>(g, 0);
  auto workspace = make_workspace(f, x.place());
  auto* y_data = y.data<float>();
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, f.src.input(mutable_data(x))},
                                       {DNNL_ARG_DST, f.dst.output(y_data)},
                                       {DNNL_ARG_SCALE, channel_memory(scale)},
                                       {DNNL_ARG_SHIFT, channel_memory(shift)},
                                       {DNNL_ARG_MEAN, channel_memory(saved_mean)},
                                       {DNNL_ARG_VARIANCE, channel_memory(saved_var)}};
  if (fuse_relu) args[DNNL_ARG_WORKSPACE] = memory(f.pd.workspace_desc(), cpu_engine(), workspace.data<uint8_t>());
  f.bn.execute(cpu_stream(), args);
  f.dst.finish(y_data);
  cpu_stream().wait();
  update_running(running_mean, running_var, saved_mean, saved_var, momentum, training);
  return {y, saved_mean, saved_var, workspace};
}

std::vector<paddle::Tensor> backward_unchecked(const paddle::Tensor& x, const paddle::Tensor& scale,
                                               const paddle::Tensor& saved_mean, const paddle::Tensor& saved_var,
                                               const paddle::Tensor& workspace, const paddle::Tensor& dy,
                                               float epsilon, bool training, bool fuse_relu, int mode) {
  check_cpu_fp32(dy, "onednn_batch_norm", "grad of Out");
  auto g = make_geometry(x, epsilon, training, fuse_relu, mode);
  auto dx = paddle::empty(x.shape(), paddle::DataType::FLOAT32, x.place());
  auto dscale = paddle::empty(scale.shape(), paddle::DataType::FLOAT32, x.place());
  auto dshift = paddle::empty(scale.shape(), paddle::DataType::FLOAT32, x.place());
  if (mode == kChannelLoops) {
    batch_norm_loops::backward(g.loops_shape(), x.data<float>(), dy.data<float>(),
                               scale.data<float>(), saved_mean.data<float>(), saved_var.data<float>(), epsilon,
                               training, dx.data<float>(), dscale.data<float>(), dshift.data<float>());
    return {dx, dscale, dshift};
  }
  auto& b = cached<BnBackward>(g, 1);
  auto* dx_data = dx.data<float>();
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, b.src.input(mutable_data(x))},
                                       {DNNL_ARG_DIFF_DST, b.diff_dst.input(mutable_data(dy))},
                                       {DNNL_ARG_DIFF_SRC, b.diff_src.output(dx_data)},
                                       {DNNL_ARG_SCALE, channel_memory(scale)},
                                       {DNNL_ARG_MEAN, channel_memory(saved_mean)},
                                       {DNNL_ARG_VARIANCE, channel_memory(saved_var)},
                                       {DNNL_ARG_DIFF_SCALE, channel_memory(dscale)},
                                       {DNNL_ARG_DIFF_SHIFT, channel_memory(dshift)}};
  if (fuse_relu) {
    auto ws_desc = cached<BnForward>(g, 0).pd.workspace_desc();
    args[DNNL_ARG_WORKSPACE] = memory(ws_desc, cpu_engine(), const_cast<uint8_t*>(workspace.data<uint8_t>()));
  }
  b.bn.execute(cpu_stream(), args);
  b.diff_src.finish(dx_data);
  cpu_stream().wait();
  return {dx, dscale, dshift};
}

// oneDNN reports bad parameters by C++ exceptions, which would abort Python: made into Paddle errors instead
std::vector<paddle::Tensor> bn_forward(const paddle::Tensor& x, const paddle::Tensor& scale,
                                       const paddle::Tensor& shift, const paddle::Tensor& running_mean,
                                       const paddle::Tensor& running_var, float epsilon, float momentum,
                                       bool training, bool fuse_relu, int mode) {
  try {
    return forward_unchecked(x, scale, shift, running_mean, running_var, epsilon, momentum, training, fuse_relu,
                             mode);
  } catch (const dnnl::error& err) {
    PD_THROW("onednn_batch_norm forward: oneDNN error ", err.what());
  }
}

std::vector<paddle::Tensor> bn_backward(const paddle::Tensor& x, const paddle::Tensor& scale,
                                        const paddle::Tensor& saved_mean, const paddle::Tensor& saved_var,
                                        const paddle::Tensor& workspace, const paddle::Tensor& dy, float epsilon,
                                        float momentum, bool training, bool fuse_relu, int mode) {
  try {
    return backward_unchecked(x, scale, saved_mean, saved_var, workspace, dy, epsilon, training, fuse_relu, mode);
  } catch (const dnnl::error& err) {
    PD_THROW("onednn_batch_norm backward: oneDNN error ", err.what());
  }
}

}  // namespace batch_norm_op

// Mean and Variance are the running statistics, updated in place when training as Paddle's batch_norm does. Not
// declared as inplace outputs: Paddle would then mark the buffers as needing gradients and refuse the next call
PD_BUILD_OP(onednn_batch_norm)
    .Inputs({"X", "Scale", "Shift", "Mean", "Variance"})
    .Outputs({"Out", "SavedMean", "SavedVariance", "Workspace"})
    .Attrs({"epsilon: float", "momentum: float", "training: bool", "fuse_relu: bool", "layout_mode: int"})
    .SetKernelFn(PD_KERNEL(batch_norm_op::bn_forward));

PD_BUILD_GRAD_OP(onednn_batch_norm)
    .Inputs({"X", "Scale", "SavedMean", "SavedVariance", "Workspace", paddle::Grad("Out")})
    .Outputs({paddle::Grad("X"), paddle::Grad("Scale"), paddle::Grad("Shift")})
    .Attrs({"epsilon: float", "momentum: float", "training: bool", "fuse_relu: bool", "layout_mode: int"})
    .SetKernelFn(PD_KERNEL(batch_norm_op::bn_backward));
