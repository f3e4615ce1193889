// onednn_conv2d: Paddle custom operator running NCHW convolution (forward, backward data, backward weights) on
// the oneDNN that Paddle's CPU wheel ships (paddle/libs/libdnnl.so.3), with a primitive cache; fp32, or bf16
// products with fp32 results (bf16 mode: the inputs are rounded to bf16 inside, master weights stay fp32).
#include <vector>

#include "onednn_common.h"

namespace conv2d_op {  // named: onednn_ops.cc compiles every operator in one unit

using namespace paddle_attn_onednn;
using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

// Activation layouts the primitives may compute in; user tensors are always NCHW (benchmarked per shape)
enum LayoutMode { kAny = 0, kPlainNchw = 1, kNhwc = 2 };
// What the products are computed in: user tensors, results and master weights stay fp32 either way
enum Precision { kFp32 = 0, kBf16 = 1 };

// Everything that fixes a convolution's primitives; also the cache key
struct Geometry {
  memory::dims src, wei, dst, strides, dilates, pad;
  int64_t groups, mode, precision;

  std::vector<int64_t> key(int64_t kind) const {
    std::vector<int64_t> k{kind, groups, mode, precision};
    for (const auto* d : {&src, &wei, &dst, &strides, &dilates, &pad}) k.insert(k.end(), d->begin(), d->end());
    return k;
  }
  memory::desc user_act(const memory::dims& d) const { return {d, dt::f32, tag::nchw}; }
  memory::desc user_wei() const { return {wei, dt::f32, groups > 1 ? tag::goihw : tag::oihw}; }
  // a factor of the products (src, weights, diff_dst) is bf16 in bf16 mode; what a primitive writes stays fp32
  dt compute_type(bool factor) const { return factor && precision == kBf16 ? dt::bf16 : dt::f32; }
  memory::desc chosen_act(const memory::dims& d, bool factor) const {
    return {d, compute_type(factor), mode == kPlainNchw ? tag::nchw : mode == kNhwc ? tag::nhwc : tag::any};
  }
  memory::desc chosen_wei(bool factor) const { return {wei, compute_type(factor), tag::any}; }
};

Geometry make_geometry(const std::vector<int64_t>& x, const std::vector<int64_t>& w, const std::vector<int>& strides,
                       const std::vector<int>& paddings, const std::vector<int>& dilations, int groups, int mode,
                       int precision) {
  PD_CHECK(x.size() == 4 && w.size() == 4, "onednn_conv2d wants 4-D NCHW input and OIHW weight");
  PD_CHECK(strides.size() == 2 && paddings.size() == 2 && dilations.size() == 2, "strides/paddings/dilations: 2 each");
  PD_CHECK(x[1] == w[1] * groups && w[0] % groups == 0, "channels do not match groups");
  PD_CHECK(precision == kFp32 || precision == kBf16, "onednn_conv2d precision: 0 (fp32) or 1 (bf16)");
  Geometry g;
  g.groups = groups;
  g.mode = mode;
  g.precision = precision;
  g.src = {x[0], x[1], x[2], x[3]};
  g.wei = groups > 1 ? memory::dims{groups, w[0] / groups, w[1], w[2], w[3]} : memory::dims{w[0], w[1], w[2], w[3]};
  int64_t out_h = (x[2] + 2 * paddings[0] - dilations[0] * (w[2] - 1) - 1) / strides[0] + 1;
  int64_t out_w = (x[3] + 2 * paddings[1] - dilations[1] * (w[3] - 1) - 1) / strides[1] + 1;
  PD_CHECK(out_h > 0 && out_w > 0, "onednn_conv2d: empty output");
  g.dst = {x[0], w[0], out_h, out_w};
  g.strides = {strides[0], strides[1]};
  g.dilates = {dilations[0] - 1, dilations[1] - 1};  // oneDNN counts the gaps, Paddle the spacing
  g.pad = {paddings[0], paddings[1]};
  return g;
}

dnnl::convolution_forward::primitive_desc forward_desc(const Geometry& g) {
  return {cpu_engine(), dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
          g.chosen_act(g.src, true), g.chosen_wei(true), g.chosen_act(g.dst, false), g.strides, g.dilates, g.pad,
          g.pad, deterministic()};
}

struct Forward {
  dnnl::convolution_forward conv;
  Staged src, wei, dst;
  explicit Forward(const Geometry& g) {
    auto pd = forward_desc(g);
    conv = dnnl::convolution_forward(pd);
    src = Staged(g.user_act(g.src), pd.src_desc(), true);
    wei = Staged(g.user_wei(), pd.weights_desc(), true);
    dst = Staged(g.user_act(g.dst), pd.dst_desc(), false);
  }
};

struct BackwardData {
  dnnl::convolution_backward_data conv;
  Staged diff_dst, wei, diff_src;
  explicit BackwardData(const Geometry& g) {
    dnnl::convolution_backward_data::primitive_desc pd(
        cpu_engine(), dnnl::algorithm::convolution_direct, g.chosen_act(g.src, false), g.chosen_wei(true),
        g.chosen_act(g.dst, true), g.strides, g.dilates, g.pad, g.pad, forward_desc(g), deterministic());
    conv = dnnl::convolution_backward_data(pd);
    diff_dst = Staged(g.user_act(g.dst), pd.diff_dst_desc(), true);
    wei = Staged(g.user_wei(), pd.weights_desc(), true);
    diff_src = Staged(g.user_act(g.src), pd.diff_src_desc(), false);
  }
};

struct BackwardWeights {
  dnnl::convolution_backward_weights conv;
  Staged src, diff_dst, diff_wei;
  explicit BackwardWeights(const Geometry& g) {
    dnnl::convolution_backward_weights::primitive_desc pd(
        cpu_engine(), dnnl::algorithm::convolution_direct, g.chosen_act(g.src, true), g.chosen_wei(false),
        g.chosen_act(g.dst, true), g.strides, g.dilates, g.pad, g.pad, forward_desc(g), deterministic());
    conv = dnnl::convolution_backward_weights(pd);
    src = Staged(g.user_act(g.src), pd.src_desc(), true);
    diff_dst = Staged(g.user_act(g.dst), pd.diff_dst_desc(), true);
    diff_wei = Staged(g.user_wei(), pd.diff_weights_desc(), false);
  }
};

std::vector<paddle::Tensor> forward_unchecked(const paddle::Tensor& x, const paddle::Tensor& w, const std::vector<int>& strides,
                                         const std::vector<int>& paddings, const std::vector<int>& dilations,
                                         int groups, int mode, int precision) {
  check_cpu_fp32(x, "onednn_conv2d", "X");
  check_cpu_fp32(w, "onednn_conv2d", "W");
  auto g = make_geometry(x.shape(), w.shape(), strides, paddings, dilations, groups, mode, precision);
  auto y = paddle::empty(g.dst, paddle::DataType::FLOAT32, x.place());
  auto& f = cached<Forward>(g, 0);
  auto* y_data = y.data<float>();
  f.conv.execute(cpu_stream(), {{DNNL_ARG_SRC, f.src.input(const_cast<float*>(x.data<float>()))},
                                {DNNL_ARG_WEIGHTS, f.wei.input(const_cast<float*>(w.data<float>()))},
                                {DNNL_ARG_DST, f.dst.output(y_data)}});
  f.dst.finish(y_data);
  cpu_stream().wait();
  return {y};
}

std::vector<paddle::Tensor> backward_unchecked(const paddle::Tensor& x, const paddle::Tensor& w, const paddle::Tensor& dy,
                                          const std::vector<int>& strides, const std::vector<int>& paddings,
                                          const std::vector<int>& dilations, int groups, int mode,
                                          int precision) {
  check_cpu_fp32(dy, "onednn_conv2d", "grad of Out");
  auto g = make_geometry(x.shape(), w.shape(), strides, paddings, dilations, groups, mode, precision);
  auto dx = paddle::empty(x.shape(), paddle::DataType::FLOAT32, x.place());
  auto dw = paddle::empty(w.shape(), paddle::DataType::FLOAT32, w.place());
  auto* dy_data = const_cast<float*>(dy.data<float>());

  auto& bd = cached<BackwardData>(g, 1);
  auto* dx_data = dx.data<float>();
  bd.conv.execute(cpu_stream(), {{DNNL_ARG_DIFF_DST, bd.diff_dst.input(dy_data)},
                                 {DNNL_ARG_WEIGHTS, bd.wei.input(const_cast<float*>(w.data<float>()))},
                                 {DNNL_ARG_DIFF_SRC, bd.diff_src.output(dx_data)}});
  bd.diff_src.finish(dx_data);

  auto& bw = cached<BackwardWeights>(g, 2);
  auto* dw_data = dw.data<float>();
  // both primitives often want dy in the same layout: convert it once
  bool same_dy = bw.diff_dst.reordered && bd.diff_dst.reordered &&
                 bw.diff_dst.buffer.get_desc() == bd.diff_dst.buffer.get_desc();
  bw.conv.execute(cpu_stream(), {{DNNL_ARG_SRC, bw.src.input(const_cast<float*>(x.data<float>()))},
                                 {DNNL_ARG_DIFF_DST, same_dy ? bd.diff_dst.buffer : bw.diff_dst.input(dy_data)},
                                 {DNNL_ARG_DIFF_WEIGHTS, bw.diff_wei.output(dw_data)}});
  bw.diff_wei.finish(dw_data);
  cpu_stream().wait();
  return {dx, dw};
}

// oneDNN reports bad parameters by C++ exceptions, which would abort Python: made into Paddle errors instead
std::vector<paddle::Tensor> conv_forward(const paddle::Tensor& x, const paddle::Tensor& w, const std::vector<int>& strides,
                                         const std::vector<int>& paddings, const std::vector<int>& dilations,
                                         int groups, int mode, int precision) {
  try {
    return forward_unchecked(x, w, strides, paddings, dilations, groups, mode, precision);
  } catch (const dnnl::error& err) {
    PD_THROW("onednn_conv2d forward: oneDNN error ", err.what());
  }
}

std::vector<paddle::Tensor> conv_backward(const paddle::Tensor& x, const paddle::Tensor& w, const paddle::Tensor& dy,
                                          const std::vector<int>& strides, const std::vector<int>& paddings,
                                          const std::vector<int>& dilations, int groups, int mode, int precision) {
  try {
    return backward_unchecked(x, w, dy, strides, paddings, dilations, groups, mode, precision);
  } catch (const dnnl::error& err) {
    PD_THROW("onednn_conv2d backward: oneDNN error ", err.what());
  }
}

}  // namespace conv2d_op

PD_BUILD_OP(onednn_conv2d)
    .Inputs({"X", "W"})
    .Outputs({"Out"})
    .Attrs({"strides: std::vector<int>", "paddings: std::vector<int>", "dilations: std::vector<int>", "groups: int",
            "layout_mode: int", "precision: int"})
    .SetKernelFn(PD_KERNEL(conv2d_op::conv_forward));

PD_BUILD_GRAD_OP(onednn_conv2d)
    .Inputs({"X", "W", paddle::Grad("Out")})
    .Outputs({paddle::Grad("X"), paddle::Grad("W")})
    .Attrs({"strides: std::vector<int>", "paddings: std::vector<int>", "dilations: std::vector<int>", "groups: int",
            "layout_mode: int", "precision: int"})
    .SetKernelFn(PD_KERNEL(conv2d_op::conv_backward));
