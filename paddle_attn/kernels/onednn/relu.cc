// onednn_relu: Paddle custom operator running fp32 ReLU forward and backward as oneDNN eltwise primitives, in the
// tensor's own memory order (element-wise: any layout is the same, so nothing is reordered). The backward reads the
// output, as Paddle's relu_grad does, so the input need not be kept.
#include <vector>

#include "onednn_common.h"

namespace {

using namespace paddle_attn_onednn;
using dnnl::memory;

// Every element-wise primitive sees the tensor as one flat run of floats: its shape does not matter, only its size
struct FlatGeometry {
  int64_t size;
  std::vector<int64_t> key(int64_t kind) const { return {kind, size}; }
  memory::desc flat() const { return {{size}, memory::data_type::f32, memory::format_tag::x}; }
  dnnl::eltwise_forward::primitive_desc forward_desc() const {
    return {cpu_engine(), dnnl::prop_kind::forward_training, dnnl::algorithm::eltwise_relu_use_dst_for_bwd, flat(),
            flat(), 0.f, 0.f};
  }
};

struct ReluForward {
  dnnl::eltwise_forward relu;
  explicit ReluForward(const FlatGeometry& g) : relu(g.forward_desc()) {}
};

struct ReluBackward {
  dnnl::eltwise_backward relu;
  explicit ReluBackward(const FlatGeometry& g)
      : relu(dnnl::eltwise_backward::primitive_desc(cpu_engine(), dnnl::algorithm::eltwise_relu_use_dst_for_bwd,
                                                    g.flat(), g.flat(), g.flat(), 0.f, 0.f, g.forward_desc())) {}
};

std::vector<paddle::Tensor> relu_forward(const paddle::Tensor& x) {
  check_cpu_fp32(x, "onednn_relu", "X");
  try {
    FlatGeometry g{x.numel()};
    auto y = paddle::empty(x.shape(), paddle::DataType::FLOAT32, x.place());
    cached<ReluForward>(g, 0).relu.execute(cpu_stream(), {{DNNL_ARG_SRC, memory(g.flat(), cpu_engine(), mutable_data(x))},
                                                          {DNNL_ARG_DST, memory(g.flat(), cpu_engine(), y.data<float>())}});
    cpu_stream().wait();
    return {y};
  } catch (const dnnl::error& err) {  // C++ exceptions would abort Python
    PD_THROW("onednn_relu forward: oneDNN error ", err.what());
  }
}

std::vector<paddle::Tensor> relu_backward(const paddle::Tensor& y, const paddle::Tensor& dy) {
  check_cpu_fp32(dy, "onednn_relu", "grad of Out");
  try {
    FlatGeometry g{y.numel()};
    auto dx = paddle::empty(y.shape(), paddle::DataType::FLOAT32, y.place());
    cached<ReluBackward>(g, 1).relu.execute(cpu_stream(),
                                            {{DNNL_ARG_DST, memory(g.flat(), cpu_engine(), mutable_data(y))},
                                             {DNNL_ARG_DIFF_DST, memory(g.flat(), cpu_engine(), mutable_data(dy))},
                                             {DNNL_ARG_DIFF_SRC, memory(g.flat(), cpu_engine(), dx.data<float>())}});
    cpu_stream().wait();
    return {dx};
  } catch (const dnnl::error& err) {
    PD_THROW("onednn_relu backward: oneDNN error ", err.what());
  }
}

}  // namespace

PD_BUILD_OP(onednn_relu).Inputs({"X"}).Outputs({"Out"}).SetKernelFn(PD_KERNEL(relu_forward));

PD_BUILD_GRAD_OP(onednn_relu)
    .Inputs({"Out", paddle::Grad("Out")})
    .Outputs({paddle::Grad("X")})
    .SetKernelFn(PD_KERNEL(relu_backward));
