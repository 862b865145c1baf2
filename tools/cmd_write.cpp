// build --demo, pack, encode, repair: commands that write a file.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <vector>

#include "commands.hpp"
#include "demo_content.hpp"
#include "temporary_file.hpp"

namespace h4mk::cli {

int build_demo(const Options& o, const std::string& out) {
  auto sink = open_output(out);
  demo::DemoStats s = demo::write_demo(*sink);
  close_output(*sink);
  if (o.json)
    std::cout << nlohmann::ordered_json{{"file", out}, {"blocks", s.blocks}, {"bytes", s.bytes}}
                     .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
  else if (!o.quiet)
    std::fprintf(stderr, "h4mk: wrote %s: %llu blocks, %llu bytes\n", out.c_str(),
                 (unsigned long long)s.blocks, (unsigned long long)s.bytes);
  return kExitOk;
}

// The seeds' video transport export: a raw byte stream cut into opaque blocks
// of block_size bytes, an I block every gop blocks, pts from the frame rate.
PackResult pack_stream(Source& in, Sink& out, const PackOptions& o,
                       const std::function<void(uint64_t)>& progress) {
  Writer w(out);
  Track t;
  t.id = 1;
  t.kind = o.kind;
  t.codec = "h4core";
  t.time_base = o.time_base;
  t.frame_rate = {o.time_base.den, o.time_base.num};
  t.default_duration = 1;
  t.name = o.track_name;
  t.adapter = "null";  // decodes back to the same bytes
  t.notes = std::string(track_kind_name(o.kind)) + " transport: raw bytes in blocks of " +
            std::to_string(o.block_size);
  if (o.compression) t.compression = *o.compression;
  w.add_track(t);
  if (o.key) w.set_mask_key(t.id, *o.key);
  TransportTokenizer tokens(o.block_size, o.gop);
  TokenBlock b;
  std::vector<uint8_t> buf(1 << 16);
  PackResult r;
  auto drain = [&] {
    while (tokens.next(b)) w.write_block({1, b.type, b.pts, b.dts, b.duration}, b.data);
  };
  for (size_t got; (got = in.read(buf)) > 0;) {
    tokens.push({buf.data(), got});
    drain();
    r.payload_bytes += got;
    if (progress) progress(r.payload_bytes);
  }
  tokens.finish();
  drain();
  w.finish();
  r.blocks = tokens.blocks();
  r.bytes = w.bytes_written();
  return r;
}

AudioPackResult pack_audio(AudioInput& audio, Tokenizer& tokenizer, Sink& out,
                           const AudioPackOptions& o) {
  Writer w(out);
  Track t;
  t.id = 1;
  t.kind = TrackKind::kAudio;
  t.codec = "h4core";
  t.adapter = o.adapter;
  t.sample_rate = audio.sample_rate();
  t.channels = audio.channels();
  t.time_base = {1, audio.sample_rate()};
  t.notes = o.notes;
  w.add_track(t);
  if (o.key) w.set_mask_key(t.id, *o.key);
  AudioPackResult r;
  TokenBlock b;
  auto drain = [&] {
    for (; tokenizer.next(b); r.blocks++)
      w.write_block({1, b.type, b.pts, b.dts, b.duration}, b.data);
  };
  for (size_t n; (n = audio.read(4096)) > 0; r.frames += n) {
    tokenizer.push(audio.planes(), n);
    drain();
  }
  tokenizer.finish();
  drain();
  w.finish();
  r.bytes = w.bytes_written();
  return r;
}

namespace {

// The audio to encode, readable by position (libsndfile's WAV parser seeks):
// a file, standard input when it is one, else standard input copied to a
// temporary file.
UniqueFd open_audio(const std::string& path) {
  if (path != "-") {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw Failure{kExitInput, path + ": " + std::strerror(errno)};
    return fd;
  }
  if (::lseek(STDIN_FILENO, 0, SEEK_SET) == 0) return UniqueFd(::dup(STDIN_FILENO));
  UniqueFd spool = temporary_file();
  if (!spool) throw Failure{kExitOutput, "cannot hold standard input: no temporary file"};
  std::vector<char> buf(1 << 16);
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, buf.data(), buf.size());
    if (n == 0) break;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Failure{kExitInput, std::string("standard input: ") + std::strerror(errno)};
    if (!write_all(spool.get(), buf.data(), size_t(n)))
      throw Failure{kExitOutput, std::string("temporary file: ") + std::strerror(errno)};
  }
  return spool;
}

}  // namespace

int encode(const Options& o, const std::string& audio_path, const std::string& out,
           const std::string& name, const std::string& tokenizer_options, const AudioFormat& format,
           const KeySource& key) {
  // The track names its decoder, which is loaded by name only (h4mk decode
  // and FFmpeg): a plugin path would make a file nothing else decodes.
  if (!is_adapter_name(name))
    throw Failure{kExitUsage, "--tokenizer " + name +
                                  ": a plugin name (h4mk-adapter-NAME.so on H4MK_ADAPTER_PATH); "
                                  "the track names its decoder by that name"};
  std::optional<KeyScrub> mask;
  if (key.given()) mask.emplace(load_mask_key(key));
  const UniqueFd fd = open_audio(audio_path);
  std::optional<AudioInput> audio;
  try {
    audio.emplace(fd.get(), format);
  } catch (const std::invalid_argument& e) {
    throw Failure{kExitInput, audio_path + ": " + e.what()};
  }
  std::unique_ptr<Tokenizer> tokenizer;
  try {
    tokenizer = load_tokenizer(name, tokenizer_options, {audio->sample_rate(), audio->channels()});
  } catch (const Error& e) {
    throw Failure{kExitUsage, "--tokenizer " + name + ": " + e.what()};
  }
  auto sink = open_output(out);
  const std::string notes =
      name + " tokens" + (tokenizer_options.empty() ? "" : " (" + tokenizer_options + ")");
  const AudioPackResult r =
      pack_audio(*audio, *tokenizer, *sink, {name, notes, mask ? &mask->key : nullptr});
  close_output(*sink);
  if (o.json)
    std::cout << nlohmann::ordered_json{{"file", out},
                                        {"tokenizer", name},
                                        {"sample_rate", audio->sample_rate()},
                                        {"channels", audio->channels()},
                                        {"frames", r.frames},
                                        {"blocks", r.blocks},
                                        {"bytes", r.bytes},
                                        {"masked", mask.has_value()}}
                     .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
  else if (!o.quiet)
    std::fprintf(stderr, "h4mk: encoded %llu frames of %u Hz audio into %llu blocks (%s)\n",
                 (unsigned long long)r.frames, audio->sample_rate(), (unsigned long long)r.blocks,
                 out.c_str());
  return kExitOk;
}

int pack(const Options& o, const std::string& raw, const std::string& out, uint32_t block_size,
         const std::string& fps, uint32_t gop, const std::string& track_name,
         const CompressOptions* compress) {
  if (block_size == 0) throw Failure{kExitUsage, "--block-size must be positive"};
  if (gop == 0) throw Failure{kExitUsage, "--gop must be positive"};
  if (block_size > (64u << 20)) throw Failure{kExitUsage, "--block-size above 64 MiB"};
  Rational tb = time_base_for_fps(fps);
  std::optional<TrackCompression> how;
  if (compress) {
    if (compress->level < 1 || compress->level > 19) throw Failure{kExitUsage, "--level is 1..19"};
    how.emplace();
    how->level = compress->level;
    if (!compress->dictionary_file.empty())
      how->dictionary = load_dictionary(compress->dictionary_file);
  }
  auto in = open_input(raw);
  auto sink = open_output(out);
  Progress progress(o, in->size().value_or(0));
  PackResult r = pack_stream(
      *in, *sink,
      {block_size, tb, gop, track_name, TrackKind::kVideo, nullptr, how ? &*how : nullptr},
      [&](uint64_t done) { progress.update(done); });
  close_output(*sink);
  if (o.json)
    std::cout << nlohmann::ordered_json{{"file", out},
                                        {"blocks", r.blocks},
                                        {"payload_bytes", r.payload_bytes},
                                        {"bytes", r.bytes}}
                     .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
  else if (!o.quiet)
    std::fprintf(stderr, "h4mk: packed %llu bytes into %llu blocks (%s)\n",
                 (unsigned long long)r.payload_bytes, (unsigned long long)r.blocks, out.c_str());
  return kExitOk;
}

int repair(const Options& o, const std::string& in, const std::string& out) {
  auto src = open_input(in);
  auto sink = open_output(out);
  RepairReport rep = h4mk::repair(*src, *sink);
  close_output(*sink);
  warn_left_out(rep.unknown_chunks);
  nlohmann::ordered_json dropped = nlohmann::ordered_json::array();
  for (const Damage& d : rep.damage)
    dropped.push_back({{"offset", d.offset}, {"length", d.length}, {"message", d.message}});
  if (o.json) {
    std::cout << nlohmann::ordered_json{{"input", in},
                                        {"output", out},
                                        {"blocks_kept", rep.blocks_kept},
                                        {"blocks_rejected", rep.blocks_rejected},
                                        {"dropped", dropped},
                                        {"notes", rep.notes},
                                        {"unknown_chunks", unknown_chunks_json(rep.unknown_chunks)}}
                     .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
  } else if (!o.quiet) {
    std::fprintf(stderr, "h4mk: %s -> %s: %llu blocks kept, %zu damaged regions dropped\n",
                 in.c_str(), out.c_str(), (unsigned long long)rep.blocks_kept, rep.damage.size());
    for (const Damage& d : rep.damage) std::fprintf(stderr, "  dropped: %s\n", d.message.c_str());
    for (const std::string& n : rep.notes) std::fprintf(stderr, "  %s\n", n.c_str());
  }
  return kExitOk;
}

}  // namespace h4mk::cli
