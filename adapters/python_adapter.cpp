// The python adapter: a model written in Python (a subclass of the h4mk
// package's ModelAdapter: decode_I, apply_P, apply_B, finalize) decoding
// inside ffmpeg and `h4mk decode`, in an interpreter this plugin embeds.
//
// Options (the user's, never a file's: the runtime loads this plugin only for
// a user's -adapter python / --adapter python, docs/FORMAT.md §17.6):
//   module=NAME  the module to import (a dotted name)
//   class=NAME   the ModelAdapter subclass in it
//   path=DIR     put first on sys.path
//   python=EXE   the interpreter whose environment (a venv) to run in; the
//                first instance in a process decides
//   any other key=value is passed to the class as a keyword argument (str).
// The object gets the track's parameters as `track` (a dict). finalize()
// may return a numpy array or any buffer: int16, float32 or float64 samples
// ((samples, channels) or interleaved) on an audio track, uint8 pictures
// ((height, width) gray or (height, width, 3) RGB) on a video track, and
// bytes (s16 samples on an audio track, a raw picture on a video track).
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>

#include <cctype>
#include <cstring>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "plugin_util.hpp"

namespace {

using namespace h4mk_plugin;

// The interpreter: started by the first instance, never finalized (C
// extension modules such as numpy cannot be unloaded), and kept loaded with
// this plugin.
std::once_flag started;
std::string start_error;
std::string started_with;  // python= of the first instance

void start_python(const std::string& python) {
  // Extension modules take the interpreter's symbols from the global scope,
  // and the runtime loaded this plugin (and so libpython) RTLD_LOCAL.
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&Py_InitializeFromConfig), &info) && info.dli_fname)
    dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD | RTLD_NODELETE);
  if (dladdr(reinterpret_cast<void*>(&start_python), &info) && info.dli_fname)
    dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
  started_with = python;
  if (Py_IsInitialized()) return;  // the host is a Python program
  PyConfig config;
  PyConfig_InitPythonConfig(&config);
  config.install_signal_handlers = 0;  // the host's signals stay its own
  config.parse_argv = 0;
  PyStatus status = PyStatus_Ok();
  if (!python.empty())
    status = PyConfig_SetBytesString(&config, &config.program_name, python.c_str());
  if (!PyStatus_Exception(status)) status = Py_InitializeFromConfig(&config);
  PyConfig_Clear(&config);
  if (PyStatus_Exception(status)) {
    start_error = std::string("cannot start Python: ") + (status.err_msg ? status.err_msg : "?");
    return;
  }
  PyEval_SaveThread();  // other threads (ffmpeg's) take the GIL per call
}

struct Gil {
  PyGILState_STATE state = PyGILState_Ensure();
  ~Gil() { PyGILState_Release(state); }
};

struct Ref {
  PyObject* p = nullptr;
  explicit Ref(PyObject* o = nullptr) : p(o) {}
  ~Ref() { Py_XDECREF(p); }
  Ref(const Ref&) = delete;
  Ref& operator=(const Ref&) = delete;
  PyObject* release() {
    PyObject* o = p;
    p = nullptr;
    return o;
  }
};

// The pending Python exception as "Type: message" (and cleared).
std::string python_error() {
  PyObject *type = nullptr, *value = nullptr, *trace = nullptr;
  PyErr_Fetch(&type, &value, &trace);
  PyErr_NormalizeException(&type, &value, &trace);
  std::string out = type ? reinterpret_cast<PyTypeObject*>(type)->tp_name : "error";
  if (value) {
    Ref text(PyObject_Str(value));
    const char* s = text.p ? PyUnicode_AsUTF8(text.p) : nullptr;
    if (s && *s) out += std::string(": ") + s;
    PyErr_Clear();
  }
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(trace);
  return out;
}

bool is_dotted_name(const std::string& s, bool dots) {
  if (s.empty() || s.size() > 200) return false;
  bool start = true;
  for (char c : s) {
    if (c == '.' && dots && !start) {
      start = true;
      continue;
    }
    if (!(std::isalpha(static_cast<unsigned char>(c)) || c == '_' ||
          (!start && std::isdigit(static_cast<unsigned char>(c)))))
      return false;
    start = false;
  }
  return !start;
}

struct Instance {
  std::string name;  // module.class, for messages
  PyObject* adapter = nullptr;
  int kind = H4MK_OUTPUT_BYTES;
  uint32_t sample_rate = 0, channels = 0, width = 0, height = 0;
  // The last output, kept until the next call.
  PyObject* output = nullptr;
  Py_buffer view{};
  bool has_view = false;
  std::vector<float> converted;
  std::string error;

  void drop_output() {
    if (has_view) PyBuffer_Release(&view);
    has_view = false;
    Py_CLEAR(output);
  }
};

int fail(Instance& in, const char* what) {
  in.error = in.name + "." + what + ": " + python_error();
  return kErrInvalid;
}

int create(const char* options, const char* config_json, void** out, char* error, size_t size) {
  try {
    auto opts = parse_options(options);
    auto take = [&](const char* key) {
      auto it = opts.find(key);
      std::string v = it == opts.end() ? std::string() : it->second;
      if (it != opts.end()) opts.erase(it);
      return v;
    };
    const std::string module = take("module"), cls = take("class"), path = take("path"),
                      python = take("python");
    if (!is_dotted_name(module, true) || !is_dotted_name(cls, false))
      throw std::invalid_argument(
          "give module=NAME:class=NAME (a Python module and the ModelAdapter subclass in it)");
    auto cfg = nlohmann::json::parse(config_json && *config_json ? config_json : "{}");
    auto in = std::make_unique<Instance>();
    in->name = module + "." + cls;
    const std::string kind = cfg.value("kind", "data");
    if (kind == "audio") {
      in->kind = H4MK_OUTPUT_AUDIO;
      in->sample_rate = cfg.value("sample_rate", 0u);
      in->channels = cfg.value("channels", 0u);
      if (!in->sample_rate || !in->channels || in->channels > 64)
        throw std::invalid_argument("an audio track needs sample_rate and channels (1..64)");
    } else if (kind == "video") {
      in->kind = H4MK_OUTPUT_VIDEO;
      in->width = cfg.value("width", 0u);
      in->height = cfg.value("height", 0u);
      if (!in->width || !in->height || in->width > 16384 || in->height > 16384)
        throw std::invalid_argument("a video track needs width and height (1..16384)");
    }

    std::call_once(started, start_python, python);
    if (!start_error.empty()) throw std::runtime_error(start_error);
    if (python != started_with)
      throw std::invalid_argument(
          "python=" + python + ": this process runs Python as python=" + started_with + " already");
    Gil gil;
    auto check = [&](PyObject* o, const std::string& what) {
      if (!o) throw std::runtime_error(in->name + ": " + what + ": " + python_error());
      return o;
    };
    if (!path.empty()) {
      PyObject* sys_path = check(PySys_GetObject("path"), "sys.path");  // borrowed
      Ref dir(check(PyUnicode_DecodeFSDefault(path.c_str()), "path"));
      check(PyList_Insert(sys_path, 0, dir.p) == 0 ? sys_path : nullptr, "sys.path");
    }
    Ref mod(check(PyImport_ImportModule(module.c_str()), "import " + module));
    Ref type(check(PyObject_GetAttrString(mod.p, cls.c_str()), "class " + cls));
    Ref kwargs(check(PyDict_New(), "options"));
    for (const auto& [k, v] : opts) {
      Ref value(check(PyUnicode_FromString(v.c_str()), "option " + k));
      check(PyDict_SetItemString(kwargs.p, k.c_str(), value.p) == 0 ? value.p : nullptr,
            "option " + k);
    }
    Ref args(check(PyTuple_New(0), "arguments"));
    Ref obj(check(PyObject_Call(type.p, args.p, kwargs.p), cls + "(...)"));
    for (const char* method : {"decode_I", "apply_P", "finalize"})
      if (!PyObject_HasAttrString(obj.p, method))
        throw std::invalid_argument(in->name + " has no " + method + "()");
    Ref json(check(PyImport_ImportModule("json"), "import json"));
    Ref track(check(PyObject_CallMethod(json.p, "loads", "s", cfg.dump().c_str()), "track"));
    if (PyObject_SetAttrString(obj.p, "track", track.p) < 0) PyErr_Clear();
    in->adapter = obj.release();
    *out = in.release();
    return 0;
  } catch (const std::exception& e) {
    copy_error(error, size, std::string("python adapter: ") + e.what());
    return kErrInvalid;
  }
}

void destroy(void* instance) {
  auto* in = static_cast<Instance*>(instance);
  {
    Gil gil;
    in->drop_output();
    Py_CLEAR(in->adapter);
  }
  delete in;
}

const char* last_error(void* instance) { return static_cast<Instance*>(instance)->error.c_str(); }

// Calls adapter.method(states..., payload) for a new state.
int call(void* instance, const char* method, std::initializer_list<const void*> states,
         const h4mk_adapter_block* block, void** state) {
  auto* in = static_cast<Instance*>(instance);
  Gil gil;
  Ref name(PyUnicode_FromString(method));
  Ref data(PyBytes_FromStringAndSize(reinterpret_cast<const char*>(block->data),
                                     Py_ssize_t(block->size)));
  if (!name.p || !data.p) return fail(*in, method);
  PyObject* args[4] = {in->adapter};
  size_t n = 1;
  for (const void* s : states) args[n++] = static_cast<PyObject*>(const_cast<void*>(s));
  args[n++] = data.p;
  PyObject* result = PyObject_VectorcallMethod(name.p, args, n, nullptr);
  if (!result) return fail(*in, method);
  *state = result;
  return 0;
}

int decode_i(void* instance, const h4mk_adapter_block* block, void** state) {
  return call(instance, "decode_I", {}, block, state);
}
int apply_p(void* instance, const void* prev, const h4mk_adapter_block* block, void** state) {
  return call(instance, "apply_P", {prev}, block, state);
}
int apply_b(void* instance, const void* prev, const void* next, const h4mk_adapter_block* block,
            void** state) {
  return call(instance, "apply_B", {prev, next}, block, state);
}

// The buffer's element type, from its struct format ("<f", "=h", "B", ...).
char element_type(const Py_buffer& v) {
  const char* f = v.format ? v.format : "B";
  if (*f == '@' || *f == '=' || *f == '<') ++f;
  return f[0] && !f[1] ? f[0] : '?';
}

std::string shape_of(const Py_buffer& v) {
  std::string s = "(";
  for (int i = 0; i < v.ndim; ++i) s += (i ? ", " : "") + std::to_string(v.shape[i]);
  return s + (v.ndim == 1 ? ",)" : ")") + " of '" + (v.format ? v.format : "B") + "'";
}

int audio_output(Instance& in, h4mk_adapter_output* out) {
  const Py_buffer& v = in.view;
  const char type = element_type(v);
  const size_t items = size_t(v.len) / size_t(v.itemsize ? v.itemsize : 1);
  const bool shaped = v.ndim == 2 && size_t(v.shape[1]) == in.channels;
  if (!(v.ndim <= 1 || shaped) || (type != 'h' && type != 'f' && type != 'd' && type != 'B')) {
    in.error = in.name + ".finalize: " + shape_of(v) +
               " is not audio: give int16, float32 or float64 samples, (samples, " +
               std::to_string(in.channels) + ") or interleaved";
    return kErrInvalid;
  }
  const size_t sample_bytes = type == 'B' ? 2 : size_t(v.itemsize);
  const size_t frame = sample_bytes * in.channels;
  if (size_t(v.len) % frame) {
    in.error = in.name + ".finalize: " + std::to_string(v.len) + " bytes are not whole " +
               std::to_string(in.channels) + "-channel sample frames";
    return kErrInvalid;
  }
  out->kind = H4MK_OUTPUT_AUDIO;
  out->sample_rate = in.sample_rate;
  out->channels = in.channels;
  out->nb_samples = uint32_t(size_t(v.len) / frame);
  out->sample_format = type == 'h' || type == 'B' ? H4MK_SAMPLE_S16 : H4MK_SAMPLE_F32;
  out->data = static_cast<const uint8_t*>(v.buf);
  out->size = size_t(v.len);
  if (type == 'd') {
    const double* d = static_cast<const double*>(v.buf);
    in.converted.assign(d, d + items);
    out->data = reinterpret_cast<const uint8_t*>(in.converted.data());
    out->size = in.converted.size() * sizeof(float);
  }
  return 0;
}

int video_output(Instance& in, h4mk_adapter_output* out) {
  const Py_buffer& v = in.view;
  const size_t px = size_t(in.width) * in.height, len = size_t(v.len);
  const bool dims = v.ndim >= 2 && size_t(v.shape[0]) == in.height &&
                    size_t(v.shape[1]) == in.width && (v.ndim == 2 || v.shape[2] == 3);
  int format = -1;
  if (element_type(v) == 'B' && (v.ndim <= 1 || dims) && v.ndim <= 3) {
    if (len == px)
      format = H4MK_PIXEL_GRAY8;
    else if (len == 3 * px)
      format = H4MK_PIXEL_RGB24;
    else if (v.ndim <= 1 && len == picture_bytes(H4MK_PIXEL_YUV420P, in.width, in.height))
      format = H4MK_PIXEL_YUV420P;
  }
  if (format < 0) {
    in.error = in.name + ".finalize: " + shape_of(v) + " is not one " + std::to_string(in.width) +
               "x" + std::to_string(in.height) +
               " picture: give uint8 (height, width) gray or (height, width, 3) RGB";
    return kErrInvalid;
  }
  set_picture(out, static_cast<const uint8_t*>(v.buf), format, in.width, in.height);
  return 0;
}

int finalize(void* instance, const void* state, h4mk_adapter_output* out) {
  auto* in = static_cast<Instance*>(instance);
  Gil gil;
  in->drop_output();
  *out = h4mk_adapter_output{};
  in->output = PyObject_CallMethod(in->adapter, "finalize", "O",
                                   static_cast<PyObject*>(const_cast<void*>(state)));
  if (!in->output) return fail(*in, "finalize");
  if (PyObject_GetBuffer(in->output, &in->view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
    in->error = in->name + ".finalize returned " + Py_TYPE(in->output)->tp_name +
                ", not bytes or a contiguous array (" + python_error() + ")";
    return kErrInvalid;
  }
  in->has_view = true;
  if (in->kind == H4MK_OUTPUT_AUDIO) return audio_output(*in, out);
  if (in->kind == H4MK_OUTPUT_VIDEO) return video_output(*in, out);
  out->kind = H4MK_OUTPUT_BYTES;
  out->data = static_cast<const uint8_t*>(in->view.buf);
  out->size = size_t(in->view.len);
  return 0;
}

void release_state(void*, void* state) {
  Gil gil;
  Py_XDECREF(static_cast<PyObject*>(state));
}

const h4mk_adapter_api kApi = {
    .abi_version = H4MK_ADAPTER_ABI_VERSION,
    .struct_size = sizeof(h4mk_adapter_api),
    .name = "python",
    .description =
        "a ModelAdapter subclass in Python (module=...:class=...), in an embedded "
        "interpreter",
    .create = create,
    .destroy = destroy,
    .last_error = last_error,
    .decode_i = decode_i,
    .apply_p = apply_p,
    .apply_b = apply_b,
    .finalize = finalize,
    .release_state = release_state,
};

}  // namespace

extern "C" H4MK_ADAPTER_EXPORT const h4mk_adapter_api* h4mk_adapter_entry(uint32_t host_abi) {
  return host_abi == H4MK_ADAPTER_ABI_VERSION ? &kApi : nullptr;
}
