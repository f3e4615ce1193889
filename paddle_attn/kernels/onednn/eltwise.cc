// onednn_eltwise: Paddle custom operator running an fp32 element-wise activation (ReLU, sigmoid) forward and
// backward as oneDNN eltwise primitives on every thread, and onednn_add_relu, a residual junction relu(a + b), in
// the tensors' own memory order (element-wise: any layout is the same, so nothing is reordered). The backwards read
// the output, as Paddle's relu_grad and sigmoid_grad do, so the input need not be kept.
#include <algorithm>
#include <initializer_list>
#include <unordered_map>
#include <utility>
#include <vector>

#include "onednn_common.h"

namespace eltwise_op {  // named: onednn_ops.cc compiles every operator in one unit

using namespace paddle_attn_onednn;
using dnnl::memory;

// eltwise.py's ACTIVATIONS; each is the variant whose gradient is computed from the output
const dnnl::algorithm kAlgorithms[] = {dnnl::algorithm::eltwise_relu_use_dst_for_bwd,
                                       dnnl::algorithm::eltwise_logistic_use_dst_for_bwd};

// Every element-wise primitive sees the tensor as one flat run of floats: its shape does not matter, only its size
struct FlatGeometry {
  int64_t size, activation;
  std::vector<int64_t> key(int64_t kind) const { return {kind, activation, size}; }
  dnnl::algorithm algorithm() const { return kAlgorithms[activation]; }
  memory::desc flat() const { return {{size}, memory::data_type::f32, memory::format_tag::x}; }
  dnnl::eltwise_forward::primitive_desc forward_desc() const {
    return {cpu_engine(), dnnl::prop_kind::forward_training, algorithm(), flat(), flat(), 0.f, 0.f};
  }
};

FlatGeometry make_geometry(const paddle::Tensor& t, int activation) {
  PD_CHECK(activation >= 0 && activation < 2, "onednn_eltwise activation: 0 (relu) or 1 (sigmoid)");
  return {t.numel(), activation};
}

struct Forward {
  dnnl::eltwise_forward primitive;
  explicit Forward(const FlatGeometry& g) : primitive(g.forward_desc()) {}
};

struct Backward {
  dnnl::eltwise_backward primitive;
  explicit Backward(const FlatGeometry& g)
      : primitive(dnnl::eltwise_backward::primitive_desc(cpu_engine(), g.algorithm(), g.flat(), g.flat(), g.flat(),
                                                         0.f, 0.f, g.forward_desc())) {}
};

// The residual junction relu(a + b): one binary primitive with a ReLU post-op, multi-threaded (Paddle's add is a
// single-threaded loop); the gradient of both inputs is relu's, computed from the output
struct AddRelu {
  dnnl::binary primitive;
  explicit AddRelu(const FlatGeometry& g) {
    dnnl::post_ops relu;
    relu.append_eltwise(dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    dnnl::primitive_attr attr;
    attr.set_post_ops(relu);
    primitive = dnnl::binary(
        dnnl::binary::primitive_desc(cpu_engine(), dnnl::algorithm::binary_add, g.flat(), g.flat(), g.flat(), attr));
  }
};

// Runs the cached primitive of `Entry` for `g` on flat views of the tensors' data, by oneDNN argument, and waits
template <typename Entry>
void run_flat(const char* what, const FlatGeometry& g, int64_t kind,
              std::initializer_list<std::pair<int, float*>> data) {
  try {
    std::unordered_map<int, memory> args;
    for (const auto& [arg, pointer] : data) args.emplace(arg, memory(g.flat(), cpu_engine(), pointer));
    cached<Entry>(g, kind).primitive.execute(cpu_stream(), args);
    cpu_stream().wait();
  } catch (const dnnl::error& err) {  // C++ exceptions would abort Python
    PD_THROW(what, ": oneDNN error ", err.what());
  }
}

paddle::Tensor fp32_like(const paddle::Tensor& t) {
  return paddle::empty(t.shape(), paddle::DataType::FLOAT32, t.place());
}

std::vector<paddle::Tensor> eltwise_forward(const paddle::Tensor& x, int activation) {
  check_cpu_fp32(x, "onednn_eltwise", "X");
  auto y = fp32_like(x);
  run_flat<Forward>("onednn_eltwise forward", make_geometry(x, activation), 0,
                    {{DNNL_ARG_SRC, mutable_data(x)}, {DNNL_ARG_DST, y.data<float>()}});
  return {y};
}

std::vector<paddle::Tensor> eltwise_backward(const paddle::Tensor& y, const paddle::Tensor& dy, int activation) {
  check_cpu_fp32(dy, "onednn_eltwise", "grad of Out");
  auto dx = fp32_like(y);
  run_flat<Backward>(
      "onednn_eltwise backward", make_geometry(y, activation), 1,
      {{DNNL_ARG_DST, mutable_data(y)}, {DNNL_ARG_DIFF_DST, mutable_data(dy)}, {DNNL_ARG_DIFF_SRC, dx.data<float>()}});
  return {dx};
}

std::vector<paddle::Tensor> add_relu_forward(const paddle::Tensor& a, const paddle::Tensor& b) {
  check_cpu_fp32(a, "onednn_add_relu", "X");
  check_cpu_fp32(b, "onednn_add_relu", "Y");
  PD_CHECK(a.shape() == b.shape(), "onednn_add_relu adds tensors of one shape");
  auto y = fp32_like(a);
  run_flat<AddRelu>(
      "onednn_add_relu forward", make_geometry(a, 0), 2,
      {{DNNL_ARG_SRC_0, mutable_data(a)}, {DNNL_ARG_SRC_1, mutable_data(b)}, {DNNL_ARG_DST, y.data<float>()}});
  return {y};
}

std::vector<paddle::Tensor> add_relu_backward(const paddle::Tensor& y, const paddle::Tensor& dy) {
  auto dx = eltwise_backward(y, dy, 0);
  // a tensor of its own per input: Paddle may accumulate into one gradient in place
  auto copy = fp32_like(y);
  std::copy(dx[0].data<float>(), dx[0].data<float>() + dx[0].numel(), copy.data<float>());
  return {dx[0], copy};
}

}  // namespace eltwise_op

PD_BUILD_OP(onednn_eltwise)
    .Inputs({"X"})
    .Outputs({"Out"})
    .Attrs({"activation: int"})
    .SetKernelFn(PD_KERNEL(eltwise_op::eltwise_forward));

PD_BUILD_GRAD_OP(onednn_eltwise)
    .Inputs({"Out", paddle::Grad("Out")})
    .Outputs({paddle::Grad("X")})
    .Attrs({"activation: int"})
    .SetKernelFn(PD_KERNEL(eltwise_op::eltwise_backward));

PD_BUILD_OP(onednn_add_relu).Inputs({"X", "Y"}).Outputs({"Out"}).SetKernelFn(PD_KERNEL(eltwise_op::add_relu_forward));

PD_BUILD_GRAD_OP(onednn_add_relu)
    .Inputs({"Out", paddle::Grad("Out")})
    .Outputs({paddle::Grad("X"), paddle::Grad("Y")})
    .SetKernelFn(PD_KERNEL(eltwise_op::add_relu_backward));
