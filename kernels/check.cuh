// CUDA error handling: every runtime call is checked and a failure becomes a kquant::Error that says
// which call failed (and, through the caller's context, which tensor).
#pragma once
#include <string>

#include <cuda_runtime_api.h>

#include "kquant/error.h"

namespace kquant::cuda::detail {

[[noreturn]] inline void throw_cuda(cudaError_t e, const char* what) {
    throw Error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
}

inline void check(cudaError_t e, const char* what) {
    if (e != cudaSuccess) throw_cuda(e, what);
}

}  // namespace kquant::cuda::detail

#define KQ_CUDA(call) ::kquant::cuda::detail::check((call), #call)
