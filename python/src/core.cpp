// tttlab._core: the compiled part of the Python package (python/tttlab wraps it; docs/python.md).
//
// Tensors cross the boundary without torch's Python headers:
//   numpy in   a buffer (any strides, the dtypes of to_scalar_type) viewed by torch::from_blob, the
//              array kept alive by the tensor's deleter: no copy;
//   torch in   a DLPack capsule (tensor.__dlpack__()) read by at::fromDLPack: no copy, any device;
//   numpy out  a numpy array over the result tensor's CPU memory (the tensor kept alive by its base);
//   torch out  a DLPack capsule from at::toDLPack, which the wrapper hands to torch.from_dlpack.
// tttlab::InputError becomes ValueError with the one-line message the CLI prints after "error: ".
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/DLConvertor.h>
#include <c10/util/Exception.h>
#include <fmt/format.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <torch/torch.h>

#include "tttlab/core/device.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/core/shape.hpp"
#include "tttlab/core/threads.hpp"
#include "tttlab/core/versions.hpp"
#include "tttlab/data/builtin.hpp"
#include "tttlab/models/linear_head.hpp"
#include "tttlab/neighbors/index.hpp"
#include "tttlab/studies/presets.hpp"
#include "tttlab/studies/study.hpp"
#include "tttlab/studies/study_report.hpp"
#include "tttlab/ttt/local_fit.hpp"

namespace py = pybind11;
using namespace tttlab;

namespace {

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

// ---- tensors in ----

std::optional<torch::ScalarType> to_scalar_type(const py::dtype& dt) {
  const char kind = dt.kind();
  const auto size = dt.itemsize();
  if (kind == 'f' && size == 4) return torch::kFloat;
  if (kind == 'f' && size == 8) return torch::kDouble;
  if (kind == 'f' && size == 2) return torch::kHalf;
  if (kind == 'i' && size == 8) return torch::kLong;
  if (kind == 'i' && size == 4) return torch::kInt;
  if (kind == 'i' && size == 2) return torch::kShort;
  if (kind == 'i' && size == 1) return torch::kChar;
  if (kind == 'u' && size == 1) return torch::kByte;
  if (kind == 'b' && size == 1) return torch::kBool;
  return std::nullopt;
}

// A numpy array (native byte order; the wrapper converts other dtypes) or a DLPack capsule, as a
// tensor sharing its memory.
torch::Tensor tensor_from(py::handle obj, const std::string& what) {
  if (PyCapsule_CheckExact(obj.ptr())) {
    if (!PyCapsule_IsValid(obj.ptr(), "dltensor")) {
      throw py::type_error(what + ": a DLPack capsule that was already used");
    }
    auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(obj.ptr(), "dltensor"));
    torch::Tensor t = at::fromDLPack(managed);  // takes ownership: the capsule must not free it
    PyCapsule_SetName(obj.ptr(), "used_dltensor");
    PyCapsule_SetDestructor(obj.ptr(), nullptr);
    return t;
  }
  if (!py::isinstance<py::array>(obj)) {
    throw py::type_error(fmt::format("{}: expected a numpy array or a torch tensor, got {}", what,
                                     std::string(Py_TYPE(obj.ptr())->tp_name)));
  }
  auto arr = py::reinterpret_borrow<py::array>(obj);
  const auto type = to_scalar_type(arr.dtype());
  if (!type || !arr.dtype().attr("isnative").cast<bool>()) {
    throw py::type_error(fmt::format("{}: unsupported dtype {}", what, std::string(py::str(arr.dtype()))));
  }
  std::vector<int64_t> sizes, strides;
  for (py::ssize_t i = 0; i < arr.ndim(); ++i) {
    sizes.push_back(arr.shape(i));
    const auto stride = arr.strides(i);
    if (stride % arr.itemsize() != 0) {
      throw py::type_error(what + ": strides that are not a multiple of the item size (use np.ascontiguousarray)");
    }
    strides.push_back(stride / arr.itemsize());
  }
  PyObject* owner = arr.ptr();
  Py_INCREF(owner);
  return torch::from_blob(
      const_cast<void*>(arr.data()), sizes, strides,
      [owner](void*) {
        py::gil_scoped_acquire gil;
        Py_DECREF(owner);
      },
      torch::TensorOptions().dtype(*type));
}

// ---- tensors out ----

py::object numpy_from(const torch::Tensor& tensor) {
  auto* keep = new torch::Tensor(tensor.detach().to(torch::kCPU).contiguous());
  py::capsule base(keep, [](void* p) { delete static_cast<torch::Tensor*>(p); });
  py::dtype dt;
  switch (keep->scalar_type()) {
    case torch::kFloat: dt = py::dtype::of<float>(); break;
    case torch::kDouble: dt = py::dtype::of<double>(); break;
    case torch::kLong: dt = py::dtype::of<int64_t>(); break;
    case torch::kInt: dt = py::dtype::of<int32_t>(); break;
    case torch::kBool: dt = py::dtype::of<bool>(); break;
    default:
      *keep = keep->to(torch::kFloat);
      dt = py::dtype::of<float>();
  }
  std::vector<py::ssize_t> shape(keep->sizes().begin(), keep->sizes().end()), strides;
  for (const int64_t s : keep->strides()) strides.push_back(s * keep->element_size());
  return py::array(dt, shape, strides, keep->data_ptr(), base);
}

py::object capsule_from(const torch::Tensor& tensor) {
  DLManagedTensor* managed = at::toDLPack(tensor.detach());
  return py::reinterpret_steal<py::object>(PyCapsule_New(managed, "dltensor", [](PyObject* capsule) {
    // Freed here only if nobody consumed it (a consumer renames it "used_dltensor").
    if (PyCapsule_IsValid(capsule, "dltensor")) {
      auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule, "dltensor"));
      if (m != nullptr && m->deleter != nullptr) m->deleter(m);
    }
  }));
}

py::object tensor_to(const torch::Tensor& tensor, bool as_torch) {
  if (!tensor.defined()) return py::none();
  return as_torch ? capsule_from(tensor) : numpy_from(tensor);
}

// ---- settings ----

// What `tttlab run --threads N` does (core/threads.hpp).
void set_threads(int threads) { set_compute_threads(threads); }

LinearHead head_from(py::handle weight, py::handle bias) {
  LinearHead head{tensor_from(weight, "head weight"), tensor_from(bias, "head bias")};
  require_input(head.weight.dim() == 2 && head.bias.dim() == 1 && head.bias.size(0) == head.weight.size(0),
                "head: weight {} and bias {} (expected weight [C, d] and bias [C])", shape_string(head.weight.sizes()),
                shape_string(head.bias.sizes()));
  require_input(head.weight.is_floating_point() && head.bias.is_floating_point(),
                "head: weight and bias must be floating point");
  head.weight = head.weight.to(torch::kCPU, torch::kFloat).contiguous();
  head.bias = head.bias.to(torch::kCPU, torch::kFloat).contiguous();
  return head;
}

std::map<std::string, torch::Tensor> embedding_arrays(const py::dict& arrays) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [key, value] : arrays) {
    const std::string name = py::str(key);
    if (!value.is_none()) out[name] = tensor_from(value, name);
  }
  return out;
}

torch::Tensor class_probabilities(const torch::Tensor& logits) {  // as the study computes them
  return torch::softmax(logits.to(torch::kCPU, torch::kDouble), 1).to(torch::kFloat);
}

// ---- knn ----

py::tuple knn(py::handle train, py::handle queries, int64_t k, const std::string& index, const std::string& device,
              bool as_torch) {
  const torch::Tensor t = tensor_from(train, "train_x"), q = tensor_from(queries, "query_x");
  KnnResult r;
  {
    py::gil_scoped_release nogil;
    r = knn_search(t, q, k, index, resolve_device(device));
  }
  return py::make_tuple(tensor_to(r.distances, as_torch), tensor_to(r.indices, as_torch));
}

// ---- ttt_linear ----

LocalFitConfig local_fit_config(const py::dict& o) {
  LocalFitConfig c = StudyConfig::default_ttt();
  for (const auto& [key, value] : o) {
    const std::string name = py::str(key);
    if (value.is_none()) continue;
    if (name == "k") c.k = value.cast<int64_t>();
    else if (name == "steps") c.steps = value.cast<int64_t>();
    else if (name == "lr") c.lr = value.cast<double>();
    else if (name == "weight_decay") c.weight_decay = value.cast<double>();
    else if (name == "beta1") c.beta1 = value.cast<double>();
    else if (name == "beta2") c.beta2 = value.cast<double>();
    else if (name == "eps") c.eps = value.cast<double>();
    else if (name == "mode") c.mode = local_fit_mode_from_string(value.cast<std::string>());
    else if (name == "fused") c.fused = value.cast<bool>();
    else if (name == "points_per_batch") c.points_per_batch = value.cast<int64_t>();
    else if (name == "memory_budget_mb") c.memory_budget_bytes = value.cast<int64_t>() * 1024 * 1024;
    else if (name == "device") c.device = resolve_device(value.cast<std::string>());
    else throw py::type_error("unexpected TTT option '" + name + "'");
  }
  return c;
}

py::dict ttt_linear(const py::dict& arrays, py::handle weight, py::handle bias, const py::dict& options,
                    const std::string& index, bool return_heads, bool as_torch) {
  std::map<std::string, torch::Tensor> tensors = embedding_arrays(arrays);
  LocalFitConfig cfg = local_fit_config(options);
  cfg.keep_heads = return_heads;
  cfg.validate();
  const LinearHead head = head_from(weight, bias);
  LocalFitResult r;
  torch::Tensor neighbors;
  std::string path;
  {
    py::gil_scoped_release nogil;
    const Dataset data = load_embedding_tensors(tensors, "arrays", TestLabels::Optional);
    require_input(head.dim() == data.train.x.size(1),
                  "head: weight is {} but the features have width {} (expected weight [C, {}])",
                  shape_string(head.weight.sizes()), data.train.x.size(1), data.train.x.size(1));
    require_input(head.num_classes() >= data.num_classes, "head: the head has {} classes but the labels go up to {}",
                  head.num_classes(), data.num_classes - 1);
    require_input(cfg.k <= data.train.size(), "k={} is larger than the training set (N={})", cfg.k,
                  data.train.size());
    neighbors = knn_search(data.train.x, data.test.x, cfg.k, index, cfg.device).indices;
    const LocalFitData fit{data.train.x, data.train.y, data.test.x, data.test.y, neighbors};
    path = to_string(local_fit_path(cfg, head.weight.scalar_type()));
    r = local_fit_batched(head, fit, cfg);
  }
  py::dict out;
  out["predictions"] = tensor_to(r.pred, as_torch);
  out["probabilities"] = tensor_to(class_probabilities(r.logits), as_torch);
  out["logits"] = tensor_to(r.logits, as_torch);
  out["cross_entropy"] = tensor_to(r.ce, as_torch);
  out["weights"] = tensor_to(r.weights, as_torch);
  out["biases"] = tensor_to(r.biases, as_torch);
  out["neighbors"] = tensor_to(neighbors, as_torch);
  out["local_fit_path"] = path;
  return out;
}

// ---- run ----

struct Study {
  StudyConfig cfg;
  StudyResult result;
  Summary summary;
  bool as_torch = false;

  const MethodPredictions& method(const std::string& name) const {
    for (const auto& m : result.methods) {
      if (m.name == name) return m;
    }
    std::string names;
    for (const auto& m : result.methods) names += (names.empty() ? "" : ", ") + m.name;
    throw_input_error("no method '{}' in this result (the methods are: {})", name, names);
  }
};

void set_grid_list(std::vector<int64_t>& list, py::handle value) { list = value.cast<std::vector<int64_t>>(); }

StudyConfig study_config(const py::dict& o) {
  StudyConfig cfg;
  cfg.data = "arrays";  // what results.json records as config.data unless `name` says otherwise
  // The preset first, then every other setting, as the CLI applies --preset before the flags.
  if (o.contains("preset") && !o["preset"].is_none()) apply_preset(study_preset(o["preset"].cast<std::string>()), cfg);
  for (const auto& [key, value] : o) {
    const std::string name = py::str(key);
    if (value.is_none() || name == "preset") continue;
    if (name == "name") cfg.data = value.cast<std::string>();
    else if (name == "tune") cfg.tune = value.cast<bool>();
    else if (name == "adaptive") cfg.adaptive = value.cast<bool>();
    else if (name == "adaptive_holdouts") cfg.adaptive_holdouts = value.cast<int64_t>();
    else if (name == "compare_fixed") cfg.compare_fixed = value.cast<bool>();
    else if (name == "seed") cfg.seed = value.cast<uint64_t>();
    else if (name == "index") cfg.index = value.cast<std::string>();
    else if (name == "device") cfg.device = value.cast<std::string>();
    else if (name == "majority_k") cfg.majority_k = value.cast<int64_t>();
    else if (name == "bootstrap") cfg.bootstrap.resamples = value.cast<int>();
    else if (name == "keep_heads") cfg.ttt.keep_heads = value.cast<bool>();
    else if (name == "k") cfg.ttt.k = value.cast<int64_t>();
    else if (name == "steps") cfg.ttt.steps = value.cast<int64_t>();
    else if (name == "lr") cfg.ttt.lr = value.cast<double>();
    else if (name == "weight_decay" || name == "wd") cfg.ttt.weight_decay = value.cast<double>();
    else if (name == "beta1") cfg.ttt.beta1 = value.cast<double>();
    else if (name == "beta2") cfg.ttt.beta2 = value.cast<double>();
    else if (name == "eps") cfg.ttt.eps = value.cast<double>();
    else if (name == "mode") cfg.ttt.mode = local_fit_mode_from_string(value.cast<std::string>());
    else if (name == "fused") cfg.ttt.fused = value.cast<bool>();
    else if (name == "points_per_batch") cfg.ttt.points_per_batch = value.cast<int64_t>();
    else if (name == "memory_budget_mb") cfg.ttt.memory_budget_bytes = value.cast<int64_t>() * 1024 * 1024;
    else if (name == "head_epochs") cfg.head_train.epochs = value.cast<int64_t>();
    else if (name == "head_batch_size") cfg.head_train.batch_size = value.cast<int64_t>();
    else if (name == "head_lr") cfg.head_train.lr = value.cast<double>();
    else if (name == "head_wd") cfg.head_train.weight_decay = value.cast<double>();
    else if (name == "head_patience") cfg.head_train.patience = value.cast<int64_t>();
    else if (name == "tune_k") set_grid_list(cfg.grid.ks, value);
    else if (name == "tune_steps") set_grid_list(cfg.grid.steps, value);
    else if (name == "tune_lr") cfg.grid.lrs = value.cast<std::vector<double>>();
    else if (name == "tune_majority_k") set_grid_list(cfg.grid.majority_ks, value);
    else if (name == "tune_points") cfg.grid.max_points = value.cast<int64_t>();
    else if (name == "tune_holdout") cfg.grid.holdout_fraction = value.cast<double>();
    else throw py::type_error("unexpected option '" + name + "'");
  }
  cfg.bootstrap.seed = cfg.seed;  // as `tttlab run` seeds its bootstrap
  return cfg;
}

std::shared_ptr<Study> run(const py::dict& arrays, const py::object& weight, const py::object& bias,
                           const py::dict& options, bool as_torch) {
  auto study = std::make_shared<Study>();
  study->as_torch = as_torch;
  study->cfg = study_config(options);
  StudyConfig& cfg = study->cfg;
  if (!weight.is_none()) cfg.initial_head = head_from(weight, bias);
  std::map<std::string, torch::Tensor> tensors = embedding_arrays(arrays);
  {
    py::gil_scoped_release nogil;
    // What run_study(cfg) does for a folder, on the arrays: load (check, convert), warn, run, time.
    const auto start = std::chrono::steady_clock::now();
    const Dataset data = load_embedding_tensors(tensors, cfg.data, TestLabels::Optional);
    if (cfg.initial_head.weight.defined()) {
      const LinearHead& h = cfg.initial_head;
      require_input(h.dim() == data.train.x.size(1),
                    "head: weight is {} but the features have width {} (expected weight [C, {}])", shape_string(h.weight.sizes()),
                    data.train.x.size(1), data.train.x.size(1));
      require_input(h.num_classes() >= data.num_classes, "head: the head has {} classes but the labels go up to {}",
                    h.num_classes(), data.num_classes - 1);
    }
    const std::string warning = empty_classes_warning(classes_without_training_examples(data), data.num_classes);
    if (!warning.empty()) fmt::print(stderr, "{}\n", warning);
    const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    study->result = run_study(cfg, data);
    study->result.timing.seconds.insert(study->result.timing.seconds.begin(), {"load_data", load_s});
    study->summary = summarize_study(study->result, cfg.bootstrap);
  }
  return study;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "tttlab's compiled core; use the package tttlab (python/tttlab/__init__.py)";

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const InputError& e) {
      PyErr_SetString(PyExc_ValueError, first_line(e.what()).c_str());
    } catch (const c10::Error& e) {
      PyErr_SetString(PyExc_RuntimeError, first_line(e.what_without_backtrace()).c_str());
    }
  });

  m.def("knn", &knn, py::arg("train"), py::arg("queries"), py::arg("k"), py::arg("index"), py::arg("device"),
        py::arg("as_torch"));
  m.def("ttt_linear", &ttt_linear, py::arg("arrays"), py::arg("weight"), py::arg("bias"), py::arg("options"),
        py::arg("index"), py::arg("return_heads"), py::arg("as_torch"));
  m.def("run", &run, py::arg("arrays"), py::arg("weight"), py::arg("bias"), py::arg("options"),
        py::arg("as_torch"));
  m.def("set_threads", &set_threads, py::arg("threads"));
  m.def("set_progress", &set_progress_enabled, py::arg("enabled"));
  m.def("version_line", &version_line);
  m.def("have_faiss", &have_faiss);
  m.def("presets", [] {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& p : study_presets()) out.emplace_back(p.name, p.summary);
    return out;
  });

  py::class_<Study, std::shared_ptr<Study>>(m, "Study")
      .def("summary", [](const Study& s) { return study_report_text(s.result, s.summary, s.cfg.bootstrap.level); })
      .def("to_json", [](const Study& s) { return study_results_json(s.cfg, s.result, s.summary).dump(2); })
      .def(
          "save",
          [](const Study& s, const std::string& out, bool save_probs, const std::string& export_dir) {
            py::gil_scoped_release nogil;
            write_study_outputs(out, s.cfg, s.result, s.summary, export_dir, save_probs);
          },
          py::arg("out"), py::arg("save_probs"), py::arg("export_dir"))
      .def("methods",
           [](const Study& s) {
             std::vector<std::string> names;
             for (const auto& m : s.result.methods) names.push_back(m.name);
             return names;
           })
      .def("predictions", [](const Study& s, const std::string& name) { return tensor_to(s.method(name).pred, s.as_torch); })
      .def("probabilities",
           [](const Study& s, const std::string& name) { return tensor_to(s.method(name).probs, s.as_torch); })
      .def("cross_entropy", [](const Study& s, const std::string& name) { return tensor_to(s.method(name).ce, s.as_torch); })
      .def("neighbors", [](const Study& s) { return tensor_to(s.result.neighbors, s.as_torch); })
      .def("test_labels", [](const Study& s) { return tensor_to(s.result.test_labels, s.as_torch); })
      .def("head", [](const Study& s) {
        return py::make_tuple(tensor_to(s.result.head.weight, s.as_torch), tensor_to(s.result.head.bias, s.as_torch));
      })
      .def("ttt_heads", [](const Study& s) {
        return py::make_tuple(tensor_to(s.result.ttt_weights, s.as_torch), tensor_to(s.result.ttt_biases, s.as_torch));
      })
      .def("warnings", [](const Study& s) { return s.result.warnings; })
      .def("timing", [](const Study& s) { return s.result.timing.seconds; })
      .def("local_fit_path", [](const Study& s) { return s.result.local_fit_path; })
      .def("device", [](const Study& s) { return s.result.device; });
}
