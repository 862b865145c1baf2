// Whole-file operations: verify, mask, unmask, sign and repair (the CLI's).
#include "binding.hpp"

namespace h4mk::python {
namespace {

// A file to read, and what keeps a bytes-like object's memory alive.
struct Input {
  explicit Input(const py::object& from) : source(open_source(from, keep)) {}
  std::unique_ptr<ByteBuffer> keep;
  std::unique_ptr<Source> source;
};

py::dict verify_source(py::object source, const std::string& public_key_pem) {
  Input in(source);
  VerifyOptions o;
  o.public_key_pem = public_key_pem;
  o.veri_thread = false;
  const VerifyReport v = gil_free([&] { return verify(*in.source, o); });
  py::list problems;
  for (const Problem& p : v.problems) {
    py::dict d;
    d["offset"] = p.offset;
    d["chunk"] = p.chunk;
    d["code"] = code_id(p.code);
    d["message"] = p.message;
    problems.append(d);
  }
  py::dict d;
  d["ok"] = v.ok();
  d["problems"] = problems;
  d["problem_count"] = v.problem_count;
  d["chunks"] = v.chunks;
  d["blocks"] = v.blocks;
  d["complete"] = v.complete;
  d["has_veri"] = v.has_veri;
  d["veri_ok"] = v.veri_ok;
  d["veri_hash"] = v.veri_hash;
  d["has_signature"] = v.has_signature;
  d["signature_ok"] = v.signature_ok;
  py::list unknown;
  for (const UnknownChunk& c : v.unknown_chunks) {
    py::dict u;
    u["tag"] = py::bytes(c.tag.data(), c.tag.size());
    u["offset"] = c.offset;
    u["size"] = c.size;
    u["safe_to_copy"] = c.safe_to_copy();
    unknown.append(u);
  }
  d["unknown_chunks"] = unknown;
  d["unknown_chunk_count"] = v.unknown_chunk_count;
  return d;
}

py::dict unknown_chunks_dict(const UnknownChunksKept& u) {
  py::dict d;
  d["kept"] = u.kept;
  d["left_out"] = u.left_out;
  d["first_left_out"] = u.first_left_out;
  return d;
}

py::dict rewrite_dict(const RewriteReport& r) {
  py::dict d;
  d["tracks"] = r.tracks;
  d["blocks"] = r.blocks;
  d["damage"] = damage_list(r.damage);
  d["unknown_chunks"] = unknown_chunks_dict(r.unknown_chunks);
  return d;
}

py::dict mask(py::object src, py::object dst, py::object key, const std::string& scheme,
              const std::string& kid, std::vector<uint16_t> tracks) {
  const auto s = mask_scheme_from_name(scheme);
  if (!s)
    throw Error(ErrorCode::kInvalidArgument,
                "mask scheme is 'aes-256-gcm' or 'aes-256-ctr'; got '" + scheme + "'");
  const MaskKey k = mask_key(key);
  Input in(src);
  auto out = open_sink(dst);
  return rewrite_dict(gil_free([&] {
    Reader r(*in.source);
    return mask_file(r, *out, k, *s, kid, tracks);
  }));
}

py::dict unmask(py::object src, py::object dst, py::object key) {
  const MaskKey k = mask_key(key);
  Input in(src);
  auto out = open_sink(dst);
  return rewrite_dict(gil_free([&] {
    Reader r(*in.source);
    return unmask_file(r, *out, k);
  }));
}

void sign(py::object src, py::object dst, const std::string& private_key_pem) {
  Input in(src);
  auto out = open_sink(dst);
  gil_free([&] { sign_file(*in.source, *out, private_key_pem); });
}

py::dict repair_to(py::object src, py::object dst) {
  Input in(src);
  auto out = open_sink(dst);
  const RepairReport r = gil_free([&] { return repair(*in.source, *out); });
  py::dict d;
  d["blocks_kept"] = r.blocks_kept;
  d["blocks_rejected"] = r.blocks_rejected;
  d["damage"] = damage_list(r.damage);
  d["notes"] = r.notes;
  d["unknown_chunks"] = unknown_chunks_dict(r.unknown_chunks);
  return d;
}

}  // namespace

void bind_files(py::module_& m) {
  m.def("verify", &verify_source, py::arg("source"), py::arg("public_key_pem") = "");
  m.def("mask_file", &mask);
  m.def("unmask_file", &unmask);
  m.def("sign_file", &sign);
  m.def("repair_file", &repair_to);
}

}  // namespace h4mk::python
