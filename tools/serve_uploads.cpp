// h4mk serve's POST handlers: the seeds' video and audio uploads, as .h4mk
// answers or as event streams.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "serve_events.hpp"
#include "serve_handlers.hpp"
#include "serve_params.hpp"
#include "temporary_file.hpp"

namespace h4mk::cli {

using http::HttpError;
using http::Request;
using http::Response;
using nlohmann::ordered_json;
using serve_params::flag;
using serve_params::number;

namespace {

// An event is about 190 bytes, so blocks of at least 16 bytes keep a
// transport stream within 12 bytes per byte uploaded.
constexpr uint32_t kMinStreamBlock = 16;

class StdioFile {
 public:
  explicit StdioFile(std::FILE* file) : f(file) {}
  StdioFile(StdioFile&& o) noexcept : f(std::exchange(o.f, nullptr)) {}
  StdioFile(const StdioFile&) = delete;
  StdioFile& operator=(const StdioFile&) = delete;
  ~StdioFile() {
    if (f) std::fclose(f);
  }
  std::FILE* f;
};

// A stdio stream on a descriptor of its own (the stream closes it).
StdioFile stdio_of(UniqueFd fd, const char* mode) {
  std::FILE* f = fd ? ::fdopen(fd.get(), mode) : nullptr;
  if (f) fd.release();
  return StdioFile(f);
}

// The upload (a form's file part, or the raw body), read from its start.
StdioFile upload(const Request& req) {
  if (req.body.fd < 0 || req.body.size == 0)
    throw HttpError{400, !req.body.fields.empty() && req.body.file_field.empty()
                             ? "the form has no file part"
                             : "the upload is empty"};
  UniqueFd fd(::dup(req.body.fd));
  if (!fd || ::lseek(fd.get(), 0, SEEK_SET) != 0)
    throw HttpError{507, "cannot read the stored upload"};
  StdioFile f = stdio_of(std::move(fd), "rb");
  if (!f.f) throw HttpError{507, "cannot read the stored upload"};
  return f;
}

// The answer file as a sink: every byte is charged to the server's storage
// budget before it is written, and writing gives up once the server stops.
class AnswerSink final : public Sink {
 public:
  AnswerSink(std::FILE* f, const Request& req) : file_(f), req_(req) {}
  void write(std::span<const uint8_t> data) override {
    if (req_.stopping()) throw HttpError{503, "the server is stopping"};
    req_.store_answer(data.size());
    file_.write(data);
  }
  void flush() override { file_.flush(); }
  bool seekable() const override { return file_.seekable(); }
  void write_at(uint64_t offset, std::span<const uint8_t> data) override {
    file_.write_at(offset, data);
  }

 private:
  FileSink file_;
  const Request& req_;
};

struct TransportParams {
  uint32_t block_size, gop;
  Rational time_base;
};

TransportParams transport_params(const Request& req) {
  if (req.param("fps") && req.param("fps_hint"))
    throw HttpError{400, "give fps or fps_hint (the same), not both"};
  TransportParams p;
  p.block_size = static_cast<uint32_t>(number(req, "block_size", 64u << 20));
  p.gop = static_cast<uint32_t>(req.param("gop") ? number(req, "gop", 1u << 20) : 30);
  if (p.block_size == 0 || p.gop == 0) throw HttpError{400, "block_size and gop must be positive"};
  const std::string* fps = req.param("fps") ? req.param("fps") : req.param("fps_hint");
  try {
    p.time_base = time_base_for_fps(fps ? *fps : "30");
  } catch (const Failure& f) {
    throw HttpError{400, f.message};
  }
  return p;
}

struct AudioParams {
  AudioFormat format;
  DspSettings dsp;
};

AudioParams audio_params(const Request& req) {
  AudioParams p;
  if (const std::string* f = req.param("format")) p.format.container = *f;
  if (req.param("sample_rate"))
    p.format.sample_rate = static_cast<uint32_t>(number(req, "sample_rate", 768000));
  if (req.param("channels")) p.format.channels = static_cast<uint32_t>(number(req, "channels", 8));
  if (req.param("sample_rate") && !p.format.sample_rate)
    throw HttpError{400, "sample_rate must be positive"};
  if (req.param("channels") && !p.format.channels)
    throw HttpError{400, "channels must be positive"};
  if (req.param("frame_size") && req.param("hop"))
    throw HttpError{400, "give frame_size or hop (frame_size = 2 hop), not both"};
  if (req.param("frame_size")) {
    const auto n = number(req, "frame_size", 16384);
    if (n < 32 || n % 4) throw HttpError{400, "frame_size is a multiple of 4 in [32, 16384]"};
    p.dsp.hop = static_cast<unsigned>(n / 2);
  }
  if (req.param("hop")) {
    const auto n = number(req, "hop", 8192);
    if (n < 16 || n % 2) throw HttpError{400, "hop is even, in [16, 8192]"};
    p.dsp.hop = static_cast<unsigned>(n);
  }
  // Each kept bin becomes an event of about 230 bytes: at most hop/8 bins
  // a frame keeps the token stream within about 30 bytes per byte of
  // 8-bit audio uploaded (15 for 16-bit).
  const unsigned max_top_k = std::max(1u, p.dsp.hop / 8);
  p.dsp.top_k = std::min(p.dsp.top_k, max_top_k);
  if (req.param("top_k")) {
    p.dsp.top_k = static_cast<unsigned>(number(req, "top_k", 8193));
    if (p.dsp.top_k > max_top_k)
      throw HttpError{400, "top_k is at most hop/8 = " + std::to_string(max_top_k) +
                               " here: every kept bin is an event of its own"};
  }
  if (req.param("gop")) p.dsp.gop = static_cast<unsigned>(number(req, "gop", 100000));
  if (!p.dsp.top_k || !p.dsp.gop) throw HttpError{400, "top_k and gop must be positive"};
  return p;
}

std::unique_ptr<AudioInput> audio_input(const Request& req, const AudioFormat& format) {
  StdioFile in = upload(req);  // says what is wrong with an empty one
  try {
    return std::make_unique<AudioInput>(::fileno(in.f), format);
  } catch (const std::invalid_argument& e) {
    throw HttpError{400, e.what()};
  }
}

std::unique_ptr<Tokenizer> dsp_tokenizer(const DspSettings& s, const AudioInput& a) {
  const std::string options = "hop=" + std::to_string(s.hop) + ":k=" + std::to_string(s.top_k) +
                              ":gop=" + std::to_string(s.gop);
  try {
    return load_tokenizer("dsp", options, {a.sample_rate(), a.channels()});
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kNotFound)
      throw HttpError{503, std::string("the dsp tokenizer is not installed here: ") + e.what()};
    throw HttpError{400, std::string("dsp tokenizer: ") + e.what()};
  }
}

ordered_json audio_meta(const AudioInput& a, const DspSettings& s) {
  return {{"sample_rate", a.sample_rate()},
          {"channels", a.channels()},
          {"format", a.container()},
          {"frame_size", 2 * s.hop},
          {"hop", s.hop},
          {"top_k", s.top_k},
          {"gop", s.gop}};
}

}  // namespace

// Key material held for one request, wiped when it ends.
struct UploadHandlers::KeyHold {
  std::optional<KeyScrub> key;
  const MaskKey* get() const { return key ? &key->key : nullptr; }
  // Says in the answer's headers whether it was masked, and with whose key.
  void say(Response& res, const Request& req) const {
    res.headers.emplace_back("X-H4MK-Masked-Tracks", key ? "1" : "");
    if (!key) return;
    res.headers.emplace_back("X-H4MK-KID", default_key_id(key->key));
    res.headers.emplace_back("X-H4MK-Key-Source",
                             req.param("master_key_hex") ? "request" : "server");
  }
};

void UploadHandlers::key_may_travel(const Request& req) {
  if (req.param("master_key_hex") && !req.tls && !req.loopback)
    throw HttpError{403, "a key may travel only over HTTPS (--tls-cert) or from loopback"};
}

// The key to mask with: the request's master_key_hex, else the server's
// (--key-file). mask with neither is refused, and so is a key without mask.
UploadHandlers::KeyHold UploadHandlers::mask_key(const Request& req, bool mask) const {
  KeyHold k;
  if (const std::string* hex = req.param("master_key_hex")) {
    if (!mask) throw HttpError{400, "master_key_hex is given without mask=true"};
    try {
      k.key.emplace(parse_mask_key_hex(*hex));
    } catch (const Error& e) {
      throw HttpError{400, std::string("master_key_hex: ") + e.what()};
    }
  } else if (mask) {
    if (!options_.key)
      throw HttpError{400,
                      "masking needs master_key_hex or a server started with a key "
                      "(--key-file); nothing was exported"};
    k.key.emplace(*options_.key);
  }
  return k;
}

// A .h4mk that `write` makes in an unlinked temporary file, as the answer.
template <typename F>
Response UploadHandlers::h4mk_download(const Request& req, const std::string& filename, F&& write) {
  UniqueFd fd = temporary_file();
  if (!fd) throw HttpError{507, "cannot store the answer: no temporary file"};
  StdioFile out = stdio_of(UniqueFd(::dup(fd.get())), "wb");
  if (!out.f) throw HttpError{507, "cannot store the answer"};
  AnswerSink sink(out.f, req);
  write(sink);
  sink.flush();
  struct stat st {};
  if (std::fflush(out.f) != 0 || ::fstat(fd.get(), &st) != 0)
    throw HttpError{507, "cannot store the answer"};
  Response res;
  res.content_type = "application/octet-stream";
  res.headers = {{"Content-Disposition", "attachment; filename=\"" + filename + "\""}};
  const uint64_t length = static_cast<uint64_t>(st.st_size);
  counters_.bytes_sent += length;
  res.body = http::FileRange{std::move(fd), 0, length};
  return res;
}

Response UploadHandlers::video_export(Request& req) {
  const TransportParams p = transport_params(req);
  KeyHold key = mask_key(req, flag(req, "mask"));
  std::optional<TrackCompression> how;
  // decompress=true, the seeds' name, asks for groups stored as they are.
  if (flag(req, "decompress") && req.param("compress"))
    throw HttpError{400, "compress and decompress=true exclude each other"};
  if (req.param("compress")) {
    if (key.get()) throw HttpError{400, "compress and mask exclude each other"};
    how.emplace();
    how->level = int(number(req, "compress", 19));
    if (how->level < 1) throw HttpError{400, "compress is a zstd level, 1..19"};
  }
  StdioFile in_file = upload(req);
  FileSource in(in_file.f);
  PackResult packed;
  Response res = h4mk_download(req, "export.h4mk", [&](Sink& out) {
    packed = pack_stream(in, out,
                         {p.block_size, p.time_base, p.gop, "", TrackKind::kVideo, key.get(),
                          how ? &*how : nullptr});
  });
  res.headers.emplace_back("X-H4MK-Blocks", std::to_string(packed.blocks));
  key.say(res, req);
  return res;
}

Response UploadHandlers::video_stream(Request& req) {
  const TransportParams p = transport_params(req);
  if (p.block_size < kMinStreamBlock)
    throw HttpError{400, "block_size is at least " + std::to_string(kMinStreamBlock) +
                             " for a stream: every block is an event of its own"};
  StdioFile in = upload(req);
  UniqueFd fd(::dup(::fileno(in.f)));
  if (!fd) throw HttpError{507, "cannot read the stored upload"};
  const ordered_json meta{{"blocks", (req.body.size + p.block_size - 1) / p.block_size},
                          {"block_size", p.block_size},
                          {"fps", double(p.time_base.den) / double(p.time_base.num)},
                          {"gop", p.gop},
                          {"bytes", req.body.size}};
  return Response::event_stream(
      transport_events(std::move(fd), p.block_size, p.time_base, p.gop, sse("meta", meta)));
}

Response UploadHandlers::audio_stream(Request& req) {
  const AudioParams p = audio_params(req);
  auto audio = audio_input(req, p.format);
  auto tok = dsp_tokenizer(p.dsp, *audio);
  const ordered_json meta = audio_meta(*audio, p.dsp);
  return Response::event_stream(
      dsp_token_events(std::move(audio), std::move(tok), p.dsp, sse("meta", meta)));
}

Response UploadHandlers::audio_export(Request& req) {
  const AudioParams p = audio_params(req);
  KeyHold key = mask_key(req, flag(req, "mask"));
  auto audio = audio_input(req, p.format);
  auto tok = dsp_tokenizer(p.dsp, *audio);
  const std::string notes = "dsp tokens: hop " + std::to_string(p.dsp.hop) + ", top " +
                            std::to_string(p.dsp.top_k) + " bins";
  AudioPackResult packed;
  Response res = h4mk_download(req, "audio.h4mk", [&](Sink& out) {
    packed = pack_audio(*audio, *tok, out, {"dsp", notes, key.get()});
  });
  res.headers.emplace_back("X-H4MK-Blocks", std::to_string(packed.blocks));
  key.say(res, req);
  return res;
}

Response UploadHandlers::audio_mask(Request& req) {
  const auto block_size = static_cast<uint32_t>(number(req, "block_size", 64u << 20));
  if (block_size == 0) throw HttpError{400, "block_size must be positive"};
  Rational tb;
  try {
    const std::string* rate = req.param("block_rate");
    tb = time_base_for_fps(rate ? *rate : "50");
  } catch (const Failure& f) {
    throw HttpError{400, "block_rate: " + f.message};
  }
  KeyHold key = mask_key(req, true);
  StdioFile in_file = upload(req);
  FileSource in(in_file.f);
  PackResult packed;
  Response res = h4mk_download(req, "audio.masked.h4mk", [&](Sink& out) {
    packed = pack_stream(in, out, {block_size, tb, 1, "", TrackKind::kAudio, key.get()});
  });
  res.headers.emplace_back("X-H4MK-Blocks", std::to_string(packed.blocks));
  key.say(res, req);
  return res;
}

}  // namespace h4mk::cli
