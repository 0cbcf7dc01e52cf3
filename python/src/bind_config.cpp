// moerouter.Config (RouterConfig, immutable: change fields with .replace()), preset(), presets().
#include <pybind11/stl.h>

#include <string>

#include "bindings.hpp"
#include "moerouter/config.hpp"
#include "moerouter/error.hpp"

namespace moerouter::python {

namespace py = pybind11;

namespace {

RouterConfig make_config(int64_t hidden, int64_t experts, int top_k, const std::string& score,
                         int groups, int topk_groups, bool renormalize, float scale,
                         const std::string& gemm) {
  RouterConfig c;
  c.hidden = hidden;
  c.experts = experts;
  c.top_k = top_k;
  c.score = parse_score_fn(score);
  c.groups = groups;
  c.topk_groups = topk_groups;
  c.renormalize = renormalize;
  c.scale = scale;
  c.gemm = parse_gemm_mode(gemm);
  validate(c);  // a Config that exists is a valid one
  return c;
}

py::dict to_dict(const RouterConfig& c) {
  py::dict d;
  d["hidden"] = c.hidden;
  d["experts"] = c.experts;
  d["top_k"] = c.top_k;
  d["score"] = to_string(c.score);
  d["groups"] = c.groups;
  d["topk_groups"] = c.topk_groups;
  d["renormalize"] = c.renormalize;
  d["scale"] = static_cast<double>(c.scale);
  d["gemm"] = to_string(c.gemm);
  return d;
}

RouterConfig from_dict(const py::dict& d) {
  return make_config(d["hidden"].cast<int64_t>(), d["experts"].cast<int64_t>(),
                     d["top_k"].cast<int>(), d["score"].cast<std::string>(),
                     d["groups"].cast<int>(), d["topk_groups"].cast<int>(),
                     d["renormalize"].cast<bool>(), d["scale"].cast<float>(),
                     d["gemm"].cast<std::string>());
}

bool same(const RouterConfig& a, const RouterConfig& b) {
  return a.hidden == b.hidden && a.experts == b.experts && a.top_k == b.top_k && a.score == b.score &&
         a.groups == b.groups && a.topk_groups == b.topk_groups && a.renormalize == b.renormalize &&
         a.scale == b.scale && a.gemm == b.gemm;
}

}  // namespace

void bind_config(py::module_& m) {
  py::class_<RouterConfig>(m, "Config", R"doc(
What a router computes (DESIGN.md §1). Keyword arguments only; validated on creation (an invalid
field raises moerouter.Error with code 'invalid_argument' naming it). Immutable: derive variants
with .replace(field=value).

score: 'sqrtsoftplus' (DeepSeek-V4), 'sigmoid' (DeepSeek-V3), 'softmax' (Mixtral, Qwen-MoE).
gemm:  'canonical' (bit-identical on every backend), 'fp32', 'bf16'.
)doc")
      .def(py::init(&make_config), py::kw_only(), py::arg("hidden"), py::arg("experts"),
           py::arg("top_k"), py::arg("score"), py::arg("groups") = 1, py::arg("topk_groups") = 1,
           py::arg("renormalize") = true, py::arg("scale") = 1.0f, py::arg("gemm") = "canonical")
      .def_property_readonly("hidden", [](const RouterConfig& c) { return c.hidden; })
      .def_property_readonly("experts", [](const RouterConfig& c) { return c.experts; })
      .def_property_readonly("top_k", [](const RouterConfig& c) { return c.top_k; })
      .def_property_readonly("score", [](const RouterConfig& c) { return to_string(c.score); })
      .def_property_readonly("groups", [](const RouterConfig& c) { return c.groups; })
      .def_property_readonly("topk_groups", [](const RouterConfig& c) { return c.topk_groups; })
      .def_property_readonly("renormalize", [](const RouterConfig& c) { return c.renormalize; })
      .def_property_readonly("scale", [](const RouterConfig& c) { return static_cast<double>(c.scale); })
      .def_property_readonly("gemm", [](const RouterConfig& c) { return to_string(c.gemm); })
      .def("to_dict", &to_dict, "The fields as a dict (Config(**d) rebuilds it).")
      .def(
          "replace",
          [](const RouterConfig& c, const py::kwargs& changes) {
            py::dict d = to_dict(c);
            for (const auto& item : changes) {
              if (!d.contains(item.first))
                fail_arg(ErrorCode::InvalidArgument, "Config.replace",
                         "fields of Config (hidden, experts, top_k, score, groups, topk_groups, "
                         "renormalize, scale, gemm)",
                         "'" + item.first.cast<std::string>() + "'");
              d[item.first] = item.second;
            }
            return from_dict(d);
          },
          "A validated copy with the given fields changed: cfg.replace(gemm='fp32').")
      .def("describe", [](const RouterConfig& c) { return describe(c); }, "One line, for logs.")
      .def("__eq__", [](const RouterConfig& a, const RouterConfig& b) { return same(a, b); },
           py::is_operator())
      .def("__repr__",
           [](const RouterConfig& c) {
             std::string s = "moerouter.Config(";
             bool first = true;
             for (const auto& item : to_dict(c)) {
               s += (first ? "" : ", ") + item.first.cast<std::string>() + "=" +
                    py::repr(item.second).cast<std::string>();
               first = false;
             }
             return s + ")";
           })
      .def(py::pickle([](const RouterConfig& c) { return to_dict(c); },
                      [](const py::dict& d) { return from_dict(d); }));
  // pybind11 sets __hash__ = None once __eq__ is defined; a Config is immutable, so hashing its
  // fields is safe (configs can key dicts, e.g. caches of routers).
  m.attr("Config").attr("__hash__") = py::cpp_function(
      [](const RouterConfig& c) { return py::hash(py::tuple(to_dict(c).attr("values")())); },
      py::is_method(m.attr("Config")));

  m.def("preset", &preset, py::arg("name"),
        "The Config of a named preset (moerouter.presets() lists them).");
  m.def("presets", &preset_names, "Names of the built-in presets.");
  m.attr("CONTRACT_VERSION") = kContractVersion;
  m.attr("CANONICAL_CHUNK") = kCanonicalChunk;
  m.attr("MAX_EXPERTS") = kMaxExperts;
  m.attr("MAX_TOP_K") = kMaxTopK;
}

}  // namespace moerouter::python
