// The h4mk subcommands. Each returns an exit code (cli_common.hpp) and throws
// Failure or h4mk::Error for main() to report.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "audio_input.hpp"
#include "cli_common.hpp"

namespace h4mk::cli {

// Documents shared by the commands and `serve` (cmd_read.cpp)
nlohmann::ordered_json manifest_json(Reader& r, const std::string& file);  // inspect --json
nlohmann::ordered_json chain_json(Reader& r, const Track& t, int64_t ticks);
nlohmann::ordered_json seek_json(Reader& r, const Track& t, int64_t ticks);  // throws kNotFound
// The index-th block (of `track`, or of the file) or the one at `offset`.
bool find_block(Reader& r, std::optional<uint16_t> track, std::optional<uint64_t> index,
                std::optional<uint64_t> offset, Block& b);

// Reading (cmd_read.cpp)
int inspect(const Options& o, const std::string& file);
// packets: every track's blocks in dts order (PacketReader), with side data;
// damaged: a damaged group's blocks too, marked (Reader::hand_out_damaged_groups).
int list(const Options& o, const std::string& file, std::optional<uint16_t> track,
         const std::string& from, const std::string& to, bool packets = false,
         bool damaged = false);
int chain(const Options& o, const std::string& file, uint16_t track, const std::string& time);
int seek(const Options& o, const std::string& file, uint16_t track, const std::string& time);
int block(const Options& o, const std::string& file, std::optional<uint16_t> track,
          std::optional<uint64_t> index, std::optional<uint64_t> offset, const std::string& out);

// Writing (cmd_write.cpp)
int build_demo(const Options& o, const std::string& out);
// The video transport tokenizer over a whole stream: one h4core track
// (adapter null) of block_size-byte blocks, an I block every gop; with a key,
// the track is masked (aes-256-gcm, the key's default id).
struct PackResult {
  uint64_t blocks = 0, payload_bytes = 0, bytes = 0;
};
struct PackOptions {
  uint32_t block_size = 0;
  Rational time_base{1, 30};
  uint32_t gop = 30;
  std::string track_name;
  TrackKind kind = TrackKind::kVideo;
  const MaskKey* key = nullptr;
  const TrackCompression* compression = nullptr;
};
PackResult pack_stream(Source& in, Sink& out, const PackOptions& options,
                       const std::function<void(uint64_t)>& progress = {});
struct CompressOptions {
  int level = 3;
  std::string dictionary_file;   // a zstd dictionary to compress with
  size_t train_bytes = 0;        // train one of this size from the input instead
  std::vector<uint16_t> tracks;  // empty: every unmasked track
};
int pack(const Options& o, const std::string& raw, const std::string& out, uint32_t block_size,
         const std::string& fps, uint32_t gop, const std::string& track_name,
         const CompressOptions* compress);

// Audio through a tokenizer: one h4core audio track (track 1) whose
// adapter is the tokenizer's plugin, which decodes it; with a key, masked.
struct AudioPackOptions {
  std::string adapter;  // the plugin's name, as the track names its decoder
  std::string notes;    // the track's notes
  const MaskKey* key = nullptr;
};
struct AudioPackResult {
  uint64_t blocks = 0, frames = 0, bytes = 0;
};
AudioPackResult pack_audio(AudioInput& audio, Tokenizer& tokenizer, Sink& out,
                           const AudioPackOptions& options);

// Compression (cmd_compress.cpp)
std::vector<uint8_t> load_dictionary(const std::string& path);
int compress(const Options& o, const std::string& in, const std::string& out,
             const CompressOptions& c);
int decompress(const Options& o, const std::string& in, const std::string& out,
               const std::vector<uint16_t>& tracks);
int dictionary(const Options& o, const std::string& in, const std::string& out, size_t size,
               const std::vector<uint16_t>& tracks);
int repair(const Options& o, const std::string& in, const std::string& out);

// Integrity (cmd_verify.cpp). file: a path, "-" or an http(s) URL.
// public_key_file: a trusted Ed25519 key (PEM) the file's signature must
// hold for; "" = no signature check. With a track or a time range (which
// need the key), only what reading that range uses is read and checked.
int verify(const Options& o, const std::string& file, const std::string& public_key_file,
           std::optional<uint16_t> track, const std::string& from, const std::string& to);

// Protection (cmd_mask.cpp)
struct KeySource {  // load_mask_key: exactly one is set
  std::string hex, file, env;
  bool given() const { return !hex.empty() || !file.empty() || !env.empty(); }
};
MaskKey load_mask_key(const KeySource& k);
// A key wiped from memory however the command or request ends.
struct KeyScrub {
  explicit KeyScrub(const MaskKey& k) : key(k) {}
  MaskKey key;
  ~KeyScrub();
};
std::string read_public_key(const std::string& path);
// only: the tracks to mask; empty = every track not masked yet.
int mask(const Options& o, const std::string& in, const std::string& out, const KeySource& key,
         const std::string& scheme, const std::string& kid, const std::vector<uint16_t>& only);
int unmask(const Options& o, const std::string& in, const std::string& out, const KeySource& key);
int sign(const Options& o, const std::string& in, const std::string& out,
         const std::string& private_key_file);

// Decoding (cmd_decode.cpp): a range of a track through an adapter, to WAV
// for audio, raw bytes otherwise. Empty from/to = the whole track.
int decode(const Options& o, const std::string& file, std::optional<uint16_t> track,
           const std::string& adapter, const std::string& adapter_options, const std::string& from,
           const std::string& to, const std::string& out, const KeySource& key);
// Encoding (cmd_write.cpp): a WAV or raw PCM file ("-": standard input,
// spooled to a temporary file when it is a pipe) through the tokenizer of
// the plugin `name`, into a file pack_audio writes.
int encode(const Options& o, const std::string& audio, const std::string& out,
           const std::string& name, const std::string& tokenizer_options, const AudioFormat& format,
           const KeySource& key);

// Serving (cmd_serve.cpp): HTTP on host:port until SIGTERM or SIGINT.
struct ServeOptions {
  std::string root;
  std::string host = "127.0.0.1";
  int port = 8080;       // 0: any free port (printed on standard output)
  unsigned threads = 2;  // polling threads; connections do not hold one
  unsigned workers = 2;  // threads for handlers that take time
  unsigned max_connections = 1000;
  unsigned max_connections_per_ip = 0;  // 0: no per-address limit
  unsigned idle_timeout = 10;           // seconds a connection may send and take nothing
  bool allow_upload = false;
  uint64_t max_upload = 64u << 20;         // bytes of a request body
  uint64_t max_upload_total = 1ull << 30;  // bytes of all bodies and answers held at once
  std::string tls_cert, tls_key;           // PEM files: HTTPS
  std::optional<MaskKey> key;              // unmasks blocks it opens; masks exports that ask
  bool list_routes = false;                // print the routes and their parameters, then exit
};
int serve(const Options& o, const ServeOptions& so);

}  // namespace h4mk::cli
