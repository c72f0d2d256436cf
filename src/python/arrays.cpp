#include "python/arrays.h"

#include <cmath>
#include <cstring>

namespace eff::python {

namespace {

// numpy's dtype names are the ones Tensor prints (core/tensor.h), for every DType there is.
const char* numpy_code(DType t) {
  return dtype_name(t);
}

Tensor wrap(const py::array& a, DType type) {
  Shape shape(a.shape(), a.shape() + a.ndim());
  const size_t bytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(type);
  // The Tensor keeps the array alive; its last owner may be an engine thread without the GIL.
  auto* keep = new py::object(a);
  std::shared_ptr<std::byte[]> storage(static_cast<std::byte*>(const_cast<void*>(a.data())), [keep](std::byte*) {
    py::gil_scoped_acquire gil;
    delete keep;
  });
  return Tensor(type, std::move(shape), std::move(storage), bytes);
}

}  // namespace

py::dtype numpy_dtype(DType t) {
  return py::dtype(numpy_code(t));
}

Tensor tensor_from_array(const py::handle& obj, DType want, const std::string& what) {
  py::array a;
  try {
    a = py::array::ensure(obj);
    if (!a) throw py::error_already_set();
  } catch (const py::error_already_set&) {
    fail<UsageError>("{}: expected a numpy array (or something numpy.asarray takes)", what);
  }
  const py::dtype dt = numpy_dtype(want);
  const bool usable = a.dtype().is(dt) || a.dtype().equal(dt);
  const bool contiguous = (a.flags() & py::array::c_style) != 0;
  const bool aligned = reinterpret_cast<uintptr_t>(a.data()) % 16 == 0;
  if (usable && contiguous && aligned) return wrap(a, want);
  if (!usable && a.dtype().kind() == 'O') fail<UsageError>("{}: an array of Python objects, not numbers", what);
  // One conversion into a fresh aligned array (numpy's casting rules, as ONNX Runtime's callers use).
  py::array converted = py::array::ensure(py::module_::import("numpy").attr("ascontiguousarray")(a, dt));
  if (reinterpret_cast<uintptr_t>(converted.data()) % 16 == 0) return wrap(converted, want);
  Tensor t(want, Shape(converted.shape(), converted.shape() + converted.ndim()));
  if (t.nbytes()) std::memcpy(t.raw(), converted.data(), t.nbytes());
  return t;
}

Tensor labels_from_array(const py::handle& obj) {
  py::array a = py::array::ensure(obj);
  if (!a || (a.dtype().kind() != 'i' && a.dtype().kind() != 'u')) {
    fail<DataError>("labels: expected an array of integers");
  }
  return tensor_from_array(a, DType::kInt64, "labels");
}

py::array array_from_tensor(Tensor t) {
  if (!t.defined()) return py::array(numpy_dtype(DType::kFloat32), std::vector<py::ssize_t>{0});
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  if (t.storage().use_count() > 1) t = t.clone();  // shared with the model (a constant output) or a view
  auto* owner = new Tensor(std::move(t));
  py::capsule free_owner(owner, [](void* p) { delete static_cast<Tensor*>(p); });
  return py::array(numpy_dtype(owner->dtype()), shape, owner->raw(), free_owner);
}

py::object to_python(const nlohmann::json& j) {
  using V = nlohmann::json::value_t;
  switch (j.type()) {
    case V::null:
    case V::discarded:
      return py::none();
    case V::boolean:
      return py::bool_(j.get<bool>());
    case V::number_integer:
      return py::int_(j.get<int64_t>());
    case V::number_unsigned:
      return py::int_(j.get<uint64_t>());
    case V::number_float: {
      const double x = j.get<double>();
      if (!std::isfinite(x)) return py::none();
      return py::float_(x);
    }
    case V::string:
      return py::str(j.get_ref<const std::string&>());
    case V::array: {
      py::list out(j.size());
      size_t i = 0;
      for (const auto& x : j) out[i++] = to_python(x);
      return out;
    }
    case V::object: {
      py::dict out;
      for (const auto& [k, v] : j.items()) out[py::str(k)] = to_python(v);
      return out;
    }
    case V::binary:
      break;
  }
  return py::none();
}

}  // namespace eff::python
