// The bodies `h4mk serve` produces piece by piece (http::Producer): a block's
// payload, and the Server-Sent Event streams of a file's blocks, of an
// upload's transport blocks and of an upload's dsp tokens. Each holds what it
// reads from and at most one block's worth of output.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "audio_input.hpp"
#include "cli_common.hpp"
#include "http_server.hpp"

namespace h4mk::cli {

// One Server-Sent Event; text that is not UTF-8 is replaced, never thrown on.
std::string sse(const char* event, const nlohmann::ordered_json& data);

// A block's payload; the payload lives in the reader's buffer, so the reader
// lives as long as the response.
std::unique_ptr<http::Producer> block_body(std::unique_ptr<FileSource> src,
                                           std::unique_ptr<Reader> reader, const Block& b);

// A file's blocks: `meta_event` first, then a `block` event per block
// (metadata and base64 payload, encoded as the client takes it), `damage`
// and `error` events, `end`. pace: each block at its time after the first.
struct BlockSelection {
  std::optional<uint16_t> track;
  int64_t from = INT64_MIN, to = INT64_MAX;
  bool pace = false;
};
std::unique_ptr<http::Producer> block_events(std::unique_ptr<FileSource> src,
                                             std::unique_ptr<Reader> reader, BlockSelection sel,
                                             std::string meta_event,
                                             std::atomic<uint64_t>& bytes_sent);

// An upload cut as export cuts it: a `token` event per transport block
// (index, type, pts, size, SHA-256), then `done`. fd is the upload.
std::unique_ptr<http::Producer> transport_events(UniqueFd fd, uint32_t block_size,
                                                 const Rational& time_base, uint32_t gop,
                                                 std::string meta_event);

// An upload's audio through the dsp tokenizer: a `token` event per bin kept
// in each block's frame (bin_hz, magnitude, phase, the block's pts), `done`.
struct DspSettings {
  unsigned hop = 512, top_k = 64, gop = 50;
};
std::unique_ptr<http::Producer> dsp_token_events(std::unique_ptr<AudioInput> audio,
                                                 std::unique_ptr<Tokenizer> tokenizer,
                                                 DspSettings settings, std::string meta_event);

}  // namespace h4mk::cli
