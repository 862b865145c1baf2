// h4mk: inspect, list, seek, extract, build, pack, verify and repair H4MK files.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "commands.hpp"

using namespace h4mk;
using namespace h4mk::cli;

namespace {

const char* kExitCodes =
    "Exit codes: 0 success; 1 verify found problems; 2 bad command line; "
    "3 an input cannot be read or is not H4MK; 4 no such track, block or target; "
    "5 an I/O error (an output cannot be written, a read fails mid-file).";

// Overwrites a key given on the command line in the process's own argument
// memory once parsed, so it leaves the process list (/proc/PID/cmdline) for
// the rest of a long run such as serve.
void scrub_argument(int argc, char** argv, const std::string& value) {
  if (value.empty()) return;
  for (int i = 1; i < argc; ++i) {
    char* a = argv[i];
    const size_t n = std::strlen(a);
    if (n >= value.size() && std::memcmp(a + n - value.size(), value.data(), value.size()) == 0 &&
        (n == value.size() || a[n - value.size() - 1] == '='))
      std::memset(a + n - value.size(), 'x', value.size());
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"h4mk: inspect, seek, extract, build, verify, repair, mask and sign H4MK files",
               "h4mk"};
  app.footer(kExitCodes);
  app.require_subcommand(1);
  app.fallthrough();  // global flags (-q) also after the subcommand
  app.set_version_flag("--version", std::string("h4mk ") + H4MK_VERSION_STRING + " (H4MK format " +
                                        std::to_string(H4MK_FORMAT_VERSION_MAJOR) + "." +
                                        std::to_string(H4MK_FORMAT_VERSION_MINOR) + ")");
  Options o;
  app.add_flag("-q,--quiet", o.quiet, "print only errors (and requested data)");

  std::string file, out, from, to, time, fps = "30", track_name;
  uint16_t track_id = 0;
  uint64_t index = 0, offset = 0;
  uint32_t block_size = 0, gop = 30;
  bool demo = false;
  int result = kExitOk;

  auto* inspect_cmd =
      app.add_subcommand("inspect", "header, tracks, metadata, SAFE/NOTE, VERI, index");
  inspect_cmd->alias("manifest");
  inspect_cmd->add_option("FILE", file, "H4MK file, - for standard input")->required();
  inspect_cmd->add_flag("--json", o.json, "a stable JSON document");
  inspect_cmd->callback([&] { result = cli::inspect(o, file); });

  auto* list_cmd = app.add_subcommand("list", "one line per block");
  std::optional<uint16_t> list_track;
  list_cmd->add_option("FILE", file)->required();
  list_cmd->add_option("--track", list_track, "only this track");
  list_cmd->add_option("--from", from, "from TIME (1.5s, 1500ms or ticks), inclusive");
  list_cmd->add_option("--to", to, "to TIME, exclusive");
  bool list_packets = false;
  list_cmd->add_flag("--packets", list_packets,
                     "every track's blocks in dts order, as a player or ffprobe gets them, with "
                     "side data by name");
  bool list_damaged = false;
  list_cmd->add_flag("--damaged", list_damaged,
                     "also the blocks of a group whose CRC fails but that still parses, marked "
                     "damaged, as ffmpeg and ffprobe hand them out");
  list_cmd->add_flag("--json", o.json);
  list_cmd->callback(
      [&] { result = cli::list(o, file, list_track, from, to, list_packets, list_damaged); });

  auto* chain_cmd = app.add_subcommand("chain", "the decode chain for presenting TIME");
  chain_cmd->add_option("FILE", file)->required();
  chain_cmd->add_option("--track", track_id)->required();
  chain_cmd->add_option("--t", time, "TIME: 1.5s, 1500ms or ticks")->required();
  chain_cmd->add_flag("--json", o.json);
  chain_cmd->callback([&] { result = cli::chain(o, file, track_id, time); });

  auto* seek_cmd = app.add_subcommand("seek", "the I block a seek to TIME lands on");
  seek_cmd->add_option("FILE", file)->required();
  seek_cmd->add_option("--track", track_id)->required();
  seek_cmd->add_option("--t", time, "TIME: 1.5s, 1500ms or ticks")->required();
  seek_cmd->add_flag("--json", o.json);
  seek_cmd->callback([&] { result = cli::seek(o, file, track_id, time); });

  auto* block_cmd = app.add_subcommand("block", "extract one block's payload");
  std::optional<uint16_t> block_track;
  block_cmd->add_option("FILE", file)->required();
  block_cmd->add_option("--track", block_track, "track (with --index: count in this track)");
  auto* index_opt = block_cmd->add_option("--index", index, "the block's number, from 0");
  auto* offset_opt =
      block_cmd->add_option("--offset", offset, "the block's payload or group offset");
  index_opt->excludes(offset_opt);
  block_cmd->add_option("-o,--output", out, "output file, - for standard output")->required();
  block_cmd->callback([&] {
    if (!*index_opt && !*offset_opt) throw CLI::ValidationError("block: give --index or --offset");
    result = cli::block(o, file, block_track, *index_opt ? std::optional(index) : std::nullopt,
                        *offset_opt ? std::optional(offset) : std::nullopt, out);
  });

  auto* build_cmd = app.add_subcommand("build", "write the built-in demo file");
  build_cmd->add_flag("--demo", demo, "the demo: tokens at 50 Hz, I/P/B blocks at 30 fps")
      ->required();
  build_cmd->add_option("-o,--output", out)->required();
  build_cmd->add_flag("--json", o.json);
  build_cmd->callback([&] { result = cli::build_demo(o, out); });

  auto* pack_cmd =
      app.add_subcommand("pack", "cut a raw byte stream into blocks (video transport)");
  pack_cmd->add_option("RAW", file, "raw input, - for standard input")->required();
  pack_cmd->add_option("-o,--output", out)->required();
  pack_cmd->add_option("--block-size", block_size, "bytes per block")->required();
  pack_cmd->add_option("--fps", fps, "blocks per second: 30, 29.97 or 30000/1001");
  pack_cmd->add_option("--gop", gop, "an I block every GOP blocks");
  pack_cmd->add_option("--track-name", track_name);
  cli::CompressOptions compress;
  bool pack_compress = false;
  pack_cmd->add_flag("--compress", pack_compress, "zstd-compress each group that shrinks");
  pack_cmd->add_option("--level", compress.level, "zstd level 1..19 (default 3)");
  pack_cmd->add_option("--dictionary", compress.dictionary_file,
                       "a zstd dictionary (h4mk dictionary makes one)");
  pack_cmd->add_flag("--json", o.json);
  pack_cmd->callback([&] {
    if (!pack_compress && (!compress.dictionary_file.empty() || compress.level != 3))
      throw cli::Failure{cli::kExitUsage, "--level and --dictionary go with --compress"};
    result = cli::pack(o, file, out, block_size, fps, gop, track_name,
                       pack_compress ? &compress : nullptr);
  });

  auto* compress_cmd = app.add_subcommand(
      "compress", "rewrite with tracks' groups zstd-compressed (each group that shrinks)");
  compress_cmd->add_option("IN", file)->required();
  compress_cmd->add_option("-o,--output", out)->required();
  compress_cmd->add_option("--track", compress.tracks,
                           "only these tracks (default: every unmasked one)");
  compress_cmd->add_option("--level", compress.level, "zstd level 1..19 (default 3)");
  compress_cmd->add_option("--dictionary", compress.dictionary_file, "a zstd dictionary file");
  compress_cmd->add_option("--train-dictionary", compress.train_bytes,
                           "train a dictionary of this many bytes (4096 is a good start) on IN");
  compress_cmd->add_flag("--json", o.json);
  compress_cmd->callback([&] { result = cli::compress(o, file, out, compress); });

  auto* decompress_cmd =
      app.add_subcommand("decompress", "rewrite with tracks' groups stored uncompressed");
  decompress_cmd->add_option("IN", file)->required();
  decompress_cmd->add_option("-o,--output", out)->required();
  decompress_cmd->add_option("--track", compress.tracks, "only these tracks (default: all)");
  decompress_cmd->add_flag("--json", o.json);
  decompress_cmd->callback([&] { result = cli::decompress(o, file, out, compress.tracks); });

  size_t dictionary_size = 4096;
  auto* dictionary_cmd =
      app.add_subcommand("dictionary", "train a zstd dictionary on a file's groups");
  dictionary_cmd->add_option("IN", file)->required();
  dictionary_cmd->add_option("-o,--output", out)->required();
  dictionary_cmd->add_option("--size", dictionary_size, "bytes, 256..1048576 (default 4096)");
  dictionary_cmd->add_option("--track", compress.tracks,
                             "only these tracks (default: every unmasked one)");
  dictionary_cmd->callback(
      [&] { result = cli::dictionary(o, file, out, dictionary_size, compress.tracks); });

  std::string pubkey, private_key, scheme = "aes-256-gcm", kid;
  cli::KeySource key;
  std::vector<uint16_t> mask_tracks;
  auto key_options = [&](CLI::App* cmd) {
    cmd->add_option("--key", key.hex, "the 32-byte key as 64 hex digits (prefer --key-file)")
        ->each([argc, argv](const std::string& value) { scrub_argument(argc, argv, value); });
    cmd->add_option("--key-file", key.file, "a file holding the key (64 hex digits or 32 bytes)");
    cmd->add_option("--key-env", key.env, "an environment variable holding the key in hex");
  };

  auto* verify_cmd = app.add_subcommand(
      "verify", "check every CRC, VERI, the index, TAIL and the signature; or a time range");
  std::optional<uint16_t> verify_track;
  verify_cmd->add_option("FILE", file, "a file, - for standard input, or an http(s) URL")
      ->required();
  verify_cmd->add_option("--pubkey", pubkey,
                         "a trusted Ed25519 public key (PEM): the signature must hold for it");
  verify_cmd->add_option("--from", from,
                         "with --pubkey: check only what reading from TIME reads (a seek)");
  verify_cmd->add_option("--to", to, "with --pubkey: up to TIME (exclusive)");
  verify_cmd->add_option("--track", verify_track, "the track --from and --to are in (the first)");
  verify_cmd->add_flag("--json", o.json);
  verify_cmd->callback([&] { result = cli::verify(o, file, pubkey, verify_track, from, to); });

  auto* mask_cmd =
      app.add_subcommand("mask", "mask block payloads (h4mask); metadata stays readable");
  mask_cmd->add_option("IN", file)->required();
  mask_cmd->add_option("-o,--output", out)->required();
  key_options(mask_cmd);
  mask_cmd->add_option("--scheme", scheme, "aes-256-gcm (default, authenticated) or aes-256-ctr");
  mask_cmd->add_option("--kid", kid, "key id stored in the file (default: derived from the key)");
  mask_cmd->add_option("--track", mask_tracks, "only these tracks (default: every unmasked one)");
  mask_cmd->add_flag("--json", o.json);
  mask_cmd->callback([&] { result = cli::mask(o, file, out, key, scheme, kid, mask_tracks); });

  auto* unmask_cmd = app.add_subcommand("unmask", "unmask the tracks the key opens");
  unmask_cmd->add_option("IN", file)->required();
  unmask_cmd->add_option("-o,--output", out)->required();
  key_options(unmask_cmd);
  unmask_cmd->add_flag("--json", o.json);
  unmask_cmd->callback([&] { result = cli::unmask(o, file, out, key); });

  auto* sign_cmd = app.add_subcommand(
      "sign", "sign with Ed25519: a hash tree a reader checks wherever it seeks (FORMAT.md 8.2)");
  sign_cmd->add_option("IN", file)->required();
  sign_cmd->add_option("-o,--output", out)->required();
  sign_cmd->add_option("--private-key", private_key, "Ed25519 private key (PEM)")->required();
  sign_cmd->add_flag("--json", o.json);
  sign_cmd->callback([&] { result = cli::sign(o, file, out, private_key); });

  std::string adapter_name, adapter_options, from_time, to_time;
  std::optional<uint16_t> decode_track;
  auto* decode_cmd = app.add_subcommand(
      "decode", "decode a track (or a time range of it) through an adapter: WAV or raw output");
  decode_cmd->add_option("FILE", file)->required();
  decode_cmd->add_option("--track", decode_track, "track id (default: the first h4core track)");
  decode_cmd->add_option(
      "--adapter", adapter_name,
      "adapter name, a plugin path containing a /, or python (a ModelAdapter class in Python: "
      "--adapter-options module=M:class=C[:path=DIR][:python=EXE]) (default: the name the track "
      "gives)");
  decode_cmd->add_option("--adapter-options", adapter_options, "key=value:key=value");
  decode_cmd->add_option("--from", from_time, "start TIME: 1.5s, 1500ms or ticks");
  decode_cmd->add_option("--to", to_time, "end TIME (exclusive)");
  decode_cmd->add_option("-o,--output", out, "output file, - for standard output")->required();
  key_options(decode_cmd);
  decode_cmd->add_flag("--json", o.json);
  decode_cmd->callback([&] {
    result = cli::decode(o, file, decode_track, adapter_name, adapter_options, from_time, to_time,
                         out, key);
  });

  std::string tokenizer = "dsp", tokenizer_options;
  cli::AudioFormat audio_format;
  auto* encode_cmd = app.add_subcommand(
      "encode",
      "encode audio (WAV or raw PCM) through a tokenizer plugin: one h4core track, masked "
      "with a key");
  encode_cmd->add_option("AUDIO", file, "WAV or raw PCM, - for standard input")->required();
  encode_cmd->add_option("-o,--output", out, "output file, - for standard output")->required();
  encode_cmd->add_option("--tokenizer", tokenizer,
                         "a plugin's name (default dsp); the track names it as its decoder");
  encode_cmd->add_option("--tokenizer-options", tokenizer_options,
                         "key=value:key=value (dsp: hop, k, gop)");
  encode_cmd->add_option("--format", audio_format.container,
                         "wav, s16le or f32le (default: wav if it says RIFF/WAVE, else s16le)");
  encode_cmd->add_option("--sample-rate", audio_format.sample_rate, "Hz (raw PCM)");
  encode_cmd->add_option("--channels", audio_format.channels, "raw PCM (default 1)");
  key_options(encode_cmd);
  encode_cmd->add_flag("--json", o.json);
  encode_cmd->callback(
      [&] { result = cli::encode(o, file, out, tokenizer, tokenizer_options, audio_format, key); });

  cli::ServeOptions serve_opts;
  auto* serve_cmd = app.add_subcommand(
      "serve", "serve a directory of .h4mk files over HTTP (read-only unless --allow-upload)");
  serve_cmd->add_option("DIR", serve_opts.root)->required();
  serve_cmd->add_option("--host", serve_opts.host, "address to listen on (default 127.0.0.1)");
  serve_cmd->add_option("--port", serve_opts.port, "port (default 8080; 0 = any free port)");
  serve_cmd->add_option("--threads", serve_opts.threads,
                        "polling threads; connections do not hold one (default 2)");
  serve_cmd->add_option("--workers", serve_opts.workers,
                        "threads for work that takes time (packing uploads, reading files; "
                        "default 2); 32 requests wait for one at most, more get 503");
  serve_cmd->add_option("--max-connections", serve_opts.max_connections,
                        "open connections at most; more are refused (default 1000)");
  serve_cmd->add_option("--max-connections-per-ip", serve_opts.max_connections_per_ip,
                        "open connections per client address (default 0 = no limit)");
  serve_cmd->add_option("--idle-timeout", serve_opts.idle_timeout,
                        "seconds a connection may send and take nothing (default 10)");
  serve_cmd->add_flag("--allow-upload", serve_opts.allow_upload, "enable POST /v1/export");
  serve_cmd->add_option("--max-upload", serve_opts.max_upload,
                        "request body limit in bytes, whatever its transfer encoding");
  serve_cmd->add_option("--max-upload-total", serve_opts.max_upload_total,
                        "bytes of all request bodies and answers held in temporary files at "
                        "once (default 1 GiB); beyond: 503");
  serve_cmd->add_option("--tls-cert", serve_opts.tls_cert, "certificate (PEM): serve HTTPS");
  serve_cmd->add_option("--tls-key", serve_opts.tls_key, "private key (PEM) of --tls-cert");
  serve_cmd->add_flag("--routes", serve_opts.list_routes,
                      "print each route (method, path, parameters) and exit");
  key_options(serve_cmd);
  serve_cmd->callback([&] {
    if (!key.hex.empty() || !key.file.empty() || !key.env.empty())
      serve_opts.key = cli::load_mask_key(key);
    result = cli::serve(o, serve_opts);
  });

  auto* repair_cmd = app.add_subcommand("repair", "keep every intact block, write a complete file");
  repair_cmd->add_option("IN", file)->required();
  repair_cmd->add_option("-o,--output", out)->required();
  repair_cmd->add_flag("--json", o.json);
  repair_cmd->callback([&] { result = cli::repair(o, file, out); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  } catch (const Failure& f) {
    std::fprintf(stderr, "h4mk: %s\n", printable(f.message).c_str());
    return f.exit;
  } catch (const Error& e) {
    std::fprintf(stderr, "h4mk: %s: %s\n", printable(file).c_str(), printable(e.what()).c_str());
    return e.code() == ErrorCode::kIo ? kExitOutput : kExitInput;
  } catch (const std::exception& e) {  // never an abort, whatever a file holds
    std::fprintf(stderr, "h4mk: %s: %s\n", printable(file).c_str(), printable(e.what()).c_str());
    return kExitInput;
  }
  return result;
}
