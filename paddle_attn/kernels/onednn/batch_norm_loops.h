// Batch normalization of NCHW fp32 as plain loops, each thread on its own block of channels (OpenMP, the runtime
// oneDNN uses) walking the images in memory order: two passes over memory each way, where oneDNN's NCHW kernel is
// generic C++ and its blocked one pays two reorders. Deterministic: a channel's sums are made by one thread, image
// by image, whatever the thread count.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace batch_norm_loops {

struct Shape {
  int64_t n, c, hw;
  int64_t offset(int64_t i, int64_t ch) const { return (i * c + ch) * hw; }
};

// f(first, last) on every thread, for its share of the channels
template <class Fn>
void for_channel_blocks(int64_t channels, Fn f) {
#pragma omp parallel
  {
    int64_t t = omp_get_thread_num(), threads = omp_get_num_threads();
    f(channels * t / threads, channels * (t + 1) / threads);
  }
}

// Training: the batch mean and biased variance into mean/var; otherwise they hold the running ones and are read.
// The sums are taken about the channel's first value, so the variance does not cancel where the mean is large.
inline void forward(const Shape& s, const float* x, const float* scale, const float* shift, float* mean, float* var,
                    float epsilon, bool training, float* y) {
  const double count = static_cast<double>(s.n * s.hw);
  for_channel_blocks(s.c, [&](int64_t first, int64_t last) {
    std::vector<float> a(last - first), b(last - first);
    if (training) {
      std::vector<double> sums(last - first, 0.0), squares(last - first, 0.0);
      for (int64_t i = 0; i < s.n; ++i) {
        for (int64_t ch = first; ch < last; ++ch) {
          const float* p = x + s.offset(i, ch);
          const float pivot = x[s.offset(0, ch)];
          float plane_sum = 0.0f, plane_squares = 0.0f;
#pragma omp simd reduction(+ : plane_sum, plane_squares)
          for (int64_t j = 0; j < s.hw; ++j) {
            float d = p[j] - pivot;
            plane_sum += d;
            plane_squares += d * d;
          }
          sums[ch - first] += plane_sum;
          squares[ch - first] += plane_squares;
        }
      }
      for (int64_t ch = first; ch < last; ++ch) {
        double shifted_mean = sums[ch - first] / count;
        mean[ch] = static_cast<float>(x[s.offset(0, ch)] + shifted_mean);
        var[ch] = static_cast<float>(std::max(squares[ch - first] / count - shifted_mean * shifted_mean, 0.0));
      }
    }
    for (int64_t ch = first; ch < last; ++ch) {
      a[ch - first] = scale[ch] / std::sqrt(var[ch] + epsilon);
      b[ch - first] = shift[ch] - mean[ch] * a[ch - first];
    }
    for (int64_t i = 0; i < s.n; ++i) {
      for (int64_t ch = first; ch < last; ++ch) {
        const float* p = x + s.offset(i, ch);
        float* q = y + s.offset(i, ch);
        const float ac = a[ch - first], bc = b[ch - first];
#pragma omp simd
        for (int64_t j = 0; j < s.hw; ++j) q[j] = p[j] * ac + bc;
      }
    }
  });
}

// Gradients through y = (x - mean) / sqrt(var + eps) * scale + shift; with batch statistics (training) the mean
// and variance depend on x too: dx = scale / std * (dy - mean(dy) - x_hat * mean(dy * x_hat)).
inline void backward(const Shape& s, const float* x, const float* dy, const float* scale, const float* mean,
                     const float* var, float epsilon, bool training, float* dx, float* dscale, float* dshift) {
  const double count = static_cast<double>(s.n * s.hw);
  for_channel_blocks(s.c, [&](int64_t first, int64_t last) {
    std::vector<double> sum_dy(last - first, 0.0), sum_dy_centered(last - first, 0.0);
    for (int64_t i = 0; i < s.n; ++i) {
      for (int64_t ch = first; ch < last; ++ch) {
        const float* p = x + s.offset(i, ch);
        const float* g = dy + s.offset(i, ch);
        const float m = mean[ch];
        float plane_dy = 0.0f, plane_dy_centered = 0.0f;
#pragma omp simd reduction(+ : plane_dy, plane_dy_centered)
        for (int64_t j = 0; j < s.hw; ++j) {
          plane_dy += g[j];
          plane_dy_centered += g[j] * (p[j] - m);
        }
        sum_dy[ch - first] += plane_dy;
        sum_dy_centered[ch - first] += plane_dy_centered;
      }
    }
    std::vector<float> k(last - first), mean_dy(last - first), slope(last - first);
    for (int64_t ch = first; ch < last; ++ch) {
      const float inv_std = 1.0f / std::sqrt(var[ch] + epsilon);
      dshift[ch] = static_cast<float>(sum_dy[ch - first]);
      dscale[ch] = static_cast<float>(sum_dy_centered[ch - first] * inv_std);
      k[ch - first] = scale[ch] * inv_std;
      // with the running statistics the mean and variance are constants: dx = scale / std * dy
      mean_dy[ch - first] = training ? static_cast<float>(sum_dy[ch - first] / count) : 0.0f;
      slope[ch - first] = training ? static_cast<float>(sum_dy_centered[ch - first] / count) * inv_std * inv_std : 0.0f;
    }
    for (int64_t i = 0; i < s.n; ++i) {
      for (int64_t ch = first; ch < last; ++ch) {
        const float* p = x + s.offset(i, ch);
        const float* g = dy + s.offset(i, ch);
        float* q = dx + s.offset(i, ch);
        const float kc = k[ch - first], md = mean_dy[ch - first], sl = slope[ch - first], m = mean[ch];
#pragma omp simd
        for (int64_t j = 0; j < s.hw; ++j) q[j] = kc * (g[j] - md - (p[j] - m) * sl);
      }
    }
  });
}

}  // namespace batch_norm_loops
