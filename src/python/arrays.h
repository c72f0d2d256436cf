// numpy arrays <-> Tensors, and JSON documents -> Python objects.
//
// Copies: an array becomes a Tensor without a copy when it is C-contiguous, 16-byte aligned (what
// the engine's kernels assume of model weights too) and of the dtype wanted; otherwise numpy
// converts it once. A Tensor becomes an array without a copy when the engine handed the buffer over
// (nobody else holds it); a graph output that is a constant of the model is copied (it shares the
// model's storage).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <nlohmann/json.hpp>

#include "core/tensor.h"

namespace eff::python {

namespace py = pybind11;

py::dtype numpy_dtype(DType t);
// `obj` (any array-like) as a Tensor of `want`; `what` names it in messages.
Tensor tensor_from_array(const py::handle& obj, DType want, const std::string& what);
// Integer labels: any integer array-like, as given (the data set checks shape and values).
Tensor labels_from_array(const py::handle& obj);
py::array array_from_tensor(Tensor t);
// JSON as the `json` module would load it (non-finite numbers, which JSON writes as null, as None).
py::object to_python(const nlohmann::json& j);

}  // namespace eff::python
