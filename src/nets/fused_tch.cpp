// LibTorch's batch-norm and convolution backward kernels for src/nets/fused.rs (`--features tch`).
//
// The `tch` crate wraps LibTorch's operators through its generated C API, which leaves out
// `at::native_batch_norm_backward` and `at::convolution_backward` (the kernels PyTorch's autograd
// runs for BatchNorm and Conv2d). This file is the two calls it lacks, in the conventions of tch's own `libtch/torch_api.cpp`: a `tensor` is
// a heap-allocated `at::Tensor*`, which Rust takes over with `tch::Tensor::from_ptr` (and frees
// through tch's `Drop`); a C++ exception becomes a message for Rust to raise. build.rs compiles
// it with the headers of the LibTorch that torch-sys links.
#include <ATen/core/Tensor.h>
#include <ATen/ops/convolution_backward.h>
#include <ATen/ops/native_batch_norm_backward.h>

#include <cstring>
#include <exception>
#include <optional>
#include <string>

typedef at::Tensor *tensor;

namespace {
// Copies `what` into a malloc'd C string that Rust frees with `ofhnet_fused_free_message`.
char *message(const char *what) {
  size_t n = std::strlen(what) + 1;
  char *copy = static_cast<char *>(std::malloc(n));
  if (copy != nullptr) std::memcpy(copy, what, n);
  return copy;
}

std::optional<at::Tensor> maybe(tensor t) {
  if (t == nullptr) return std::nullopt;
  return *t;
}
}  // namespace

extern "C" {

// Gradients of a batch normalisation with respect to its input, weight and bias, in `out[0..3]`.
// Training mode (`train` = 1) takes the batch statistics `save_mean` and `save_invstd`
// (1 / sqrt(var + eps)); eval mode (`train` = 0) takes `running_mean` and `running_var`. Pass
// null for the pair the mode does not use. Returns null, or an error message on failure.
char *ofhnet_native_batch_norm_backward(tensor *out, tensor grad_out, tensor input, tensor weight,
                                        tensor running_mean, tensor running_var,
                                        tensor save_mean, tensor save_invstd, int train,
                                        double eps) {
  try {
    auto grads = at::native_batch_norm_backward(
        *grad_out, *input, maybe(weight), maybe(running_mean), maybe(running_var),
        maybe(save_mean), maybe(save_invstd), train != 0, eps, {true, true, true});
    out[0] = new at::Tensor(std::get<0>(grads));
    out[1] = new at::Tensor(std::get<1>(grads));
    out[2] = new at::Tensor(std::get<2>(grads));
    return nullptr;
  } catch (const std::exception &e) {
    return message(e.what());
  } catch (...) {
    return message("unknown C++ exception in at::native_batch_norm_backward");
  }
}

// Gradients of a (non-transposed) 2-D convolution with respect to its input, weight and bias,
// in `out[0..3]`, each only when its `need_*` flag is set (null otherwise). `stride`, `padding`
// and `dilation` point to two values each; `bias_channels` < 0 means the convolution has no bias.
// Returns null, or an error message on failure.
char *ofhnet_convolution_backward(tensor *out, tensor grad_out, tensor input, tensor weight,
                                  const int64_t *stride, const int64_t *padding,
                                  const int64_t *dilation, int64_t groups, int64_t bias_channels,
                                  int need_input, int need_weight, int need_bias) {
  try {
    std::optional<at::IntArrayRef> bias_sizes;
    int64_t bias_size[1] = {bias_channels};
    if (bias_channels >= 0) bias_sizes = at::IntArrayRef(bias_size, 1);
    const int64_t output_padding[2] = {0, 0};
    auto grads = at::convolution_backward(
        *grad_out, *input, *weight, bias_sizes, at::IntArrayRef(stride, 2),
        at::IntArrayRef(padding, 2), at::IntArrayRef(dilation, 2), false,
        at::IntArrayRef(output_padding, 2), groups,
        {need_input != 0, need_weight != 0, need_bias != 0 && bias_channels >= 0});
    auto take = [](const at::Tensor &t) -> tensor {
      return t.defined() ? new at::Tensor(t) : nullptr;
    };
    out[0] = take(std::get<0>(grads));
    out[1] = take(std::get<1>(grads));
    out[2] = take(std::get<2>(grads));
    return nullptr;
  } catch (const std::exception &e) {
    return message(e.what());
  } catch (...) {
    return message("unknown C++ exception in at::convolution_backward");
  }
}

void ofhnet_fused_free_message(char *message) { std::free(message); }

}  // extern "C"
