#include "serve_events.hpp"

#include <openssl/evp.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "dsp_tokens.hpp"

namespace h4mk::cli {

using nlohmann::ordered_json;

std::string sse(const char* event, const ordered_json& data) {
  return std::string("event: ") + event +
         "\ndata: " + data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n\n";
}

namespace {

// Copies from `text` at `pos` into buf; returns the bytes copied.
size_t drain(const std::string& text, size_t& pos, char* buf, size_t max) {
  const size_t n = std::min(max, text.size() - pos);
  std::memcpy(buf, text.data() + pos, n);
  pos += n;
  return n;
}

// Base64 of data[pos..] into buf, whole 3-byte groups (the last may be short).
size_t base64_piece(std::span<const uint8_t> data, size_t& pos, char* buf, size_t max) {
  if (max < 5) return 0;
  size_t n = std::min(data.size() - pos, (max - 1) / 4 * 3);  // EVP adds a NUL
  if (n == 0) return 0;
  int w = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(buf), data.data() + pos,
                          static_cast<int>(n));
  pos += n;
  return static_cast<size_t>(w);
}

class BlockBody final : public http::Producer {
 public:
  BlockBody(std::unique_ptr<FileSource> src, std::unique_ptr<Reader> reader, Block b)
      : src_(std::move(src)), reader_(std::move(reader)), b_(b) {}
  http::Step produce(char* buf, size_t max) override {
    const size_t n = std::min(max, b_.data.size() - pos_);
    if (n == 0) return {http::Step::kEnd};
    std::memcpy(buf, b_.data.data() + pos_, n);
    pos_ += n;
    return {http::Step::kData, n};
  }

 private:
  std::unique_ptr<FileSource> src_;
  std::unique_ptr<Reader> reader_;
  Block b_;
  size_t pos_ = 0;
};

class BlockEvents final : public http::Producer {
 public:
  BlockEvents(std::unique_ptr<FileSource> src, std::unique_ptr<Reader> reader, BlockSelection sel,
              std::string meta, std::atomic<uint64_t>& bytes_sent)
      : src_(std::move(src)),
        reader_(std::move(reader)),
        sel_(sel),
        text_(std::move(meta)),
        bytes_sent_(bytes_sent) {}

  // Text waiting to be sent goes first; then what the phase says.
  http::Step produce(char* buf, size_t max) override {
    for (;;) {
      if (text_pos_ < text_.size()) return sent(drain(text_, text_pos_, buf, max));
      switch (phase_) {
        case Phase::kEnded:
          return {http::Step::kEnd};
        case Phase::kPayload:
          if (payload_pos_ < block_.data.size()) {
            if (max >= 5) return sent(base64_piece(block_.data, payload_pos_, buf, max));
            // Too small for a group and EVP's NUL: stage one.
            std::string group(5, '\0');
            group.resize(base64_piece(block_.data, payload_pos_, group.data(), group.size()));
            set_text(std::move(group));
          } else {
            set_text("\"}\n\n");
            phase_ = Phase::kReading;
          }
          continue;
        case Phase::kReading:
          if (!next()) continue;  // queued an event, or the end
          phase_ = Phase::kPaced;
          [[fallthrough]];
        case Phase::kPaced: {
          if (auto wait = pace_wait()) return {http::Step::kWait, 0, *wait};
          const Track& t = *reader_->track(block_.info.track_id);
          std::string head =
              block_json(block_, t).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
          head.pop_back();  // the closing brace: the payload follows
          set_text("event: block\ndata: " + head + ",\"payload\":\"");
          phase_ = Phase::kPayload;
          payload_pos_ = 0;
          blocks_++;
          continue;
        }
      }
    }
  }

 private:
  http::Step sent(size_t n) {
    bytes_sent_ += n;
    return {http::Step::kData, n};
  }
  void set_text(std::string s) {
    text_ = std::move(s);
    text_pos_ = 0;
  }
  void end() {
    set_text(sse("end", ordered_json{{"blocks", blocks_}}));
    phase_ = Phase::kEnded;
  }

  // Reads until a block to send (true) or an event to send (false).
  bool next() {
    for (;;) {
      ReadEvent ev;
      try {
        ev = reader_->next(block_);
      } catch (const Error& e) {  // e.g. a masked block that does not authenticate
        set_text(sse("error", ordered_json{{"error", e.what()}}));
        return false;
      }
      if (ev == ReadEvent::kEnd) {
        end();
        return false;
      }
      if (ev == ReadEvent::kDamage) {
        const Damage& d = reader_->last_damage();
        set_text(sse("damage", ordered_json{{"offset", d.offset}, {"message", d.message}}));
        return false;
      }
      if (sel_.track && block_.info.track_id != *sel_.track) continue;
      if (block_.info.pts < sel_.from) continue;
      if (block_.info.pts >= sel_.to) {
        if (block_.info.type == BlockType::kI) {  // nothing later presents before `to`
          end();
          return false;
        }
        continue;
      }
      return true;
    }
  }

  std::optional<http::Clock::time_point> pace_wait() {
    if (!sel_.pace) return std::nullopt;
    const double at = seconds(block_.info.pts, reader_->track(block_.info.track_id)->time_base);
    const auto now = http::Clock::now();
    if (!start_) {
      start_ = now;
      first_ = at;
    }
    const auto due = *start_ + std::chrono::duration_cast<http::Clock::duration>(
                                   std::chrono::duration<double>(std::max(0.0, at - first_)));
    if (now >= due) return std::nullopt;
    return due;
  }

  std::unique_ptr<FileSource> src_;
  std::unique_ptr<Reader> reader_;
  BlockSelection sel_;
  std::string text_;
  size_t text_pos_ = 0;
  // Reading to the next block to send; waiting for its time (pace); sending
  // its payload; or the end event queued.
  enum class Phase { kReading, kPaced, kPayload, kEnded } phase_ = Phase::kReading;
  Block block_;
  size_t payload_pos_ = 0;
  uint64_t blocks_ = 0;
  std::optional<http::Clock::time_point> start_;
  double first_ = 0;
  std::atomic<uint64_t>& bytes_sent_;
};

// Events made a batch at a time: refill() appends to the text to send and
// returns false once nothing more will come.
class EventBatches : public http::Producer {
 public:
  explicit EventBatches(std::string first) : text_(std::move(first)) {}
  http::Step produce(char* buf, size_t max) final {
    while (text_pos_ == text_.size()) {
      if (ended_) return {http::Step::kEnd};
      text_.clear();
      text_pos_ = 0;
      try {
        ended_ = !refill(text_);
      } catch (const std::exception& e) {
        // The answer is under way (200): the stream ends saying what stopped it.
        text_ += sse("error", ordered_json{{"error", e.what()}});
        ended_ = true;
      }
    }
    return {http::Step::kData, drain(text_, text_pos_, buf, max)};
  }

 protected:
  virtual bool refill(std::string& out) = 0;

 private:
  std::string text_;
  size_t text_pos_ = 0;
  bool ended_ = false;
};

class TransportEvents final : public EventBatches {
 public:
  TransportEvents(UniqueFd fd, uint32_t block_size, const Rational& tb, uint32_t gop,
                  std::string meta)
      : EventBatches(std::move(meta)), fd_(std::move(fd)), tokens_(block_size, gop), tb_(tb) {}

 protected:
  bool refill(std::string& out) override {
    if (finished_) return false;
    std::vector<uint8_t> buf(1 << 16);
    const ssize_t n = ::read(fd_.get(), buf.data(), buf.size());
    if (n > 0) {
      tokens_.push({buf.data(), static_cast<size_t>(n)});
      bytes_ += static_cast<uint64_t>(n);
    } else {
      tokens_.finish();
      finished_ = true;
    }
    TokenBlock b;
    while (tokens_.next(b)) {
      unsigned char digest[32];
      EVP_Digest(b.data.data(), b.data.size(), digest, nullptr, EVP_sha256(), nullptr);
      const double pts_s = double(b.pts) * double(tb_.num) / double(tb_.den);
      out += sse("token", ordered_json{{"block_index", b.pts},
                                       {"type", block_type_name(b.type)},
                                       {"is_key", b.type == BlockType::kI},
                                       {"pts", b.pts},
                                       {"pts_us", std::llround(pts_s * 1e6)},
                                       {"size", b.data.size()},
                                       {"sha256", hex({digest, 32})}});
    }
    if (finished_)
      out += sse("done",
                 ordered_json{{"ok", n == 0}, {"blocks", tokens_.blocks()}, {"bytes", bytes_}});
    return true;
  }

 private:
  UniqueFd fd_;
  TransportTokenizer tokens_;
  Rational tb_;
  uint64_t bytes_ = 0;
  bool finished_ = false;
};

class DspTokenEvents final : public EventBatches {
 public:
  DspTokenEvents(std::unique_ptr<AudioInput> audio, std::unique_ptr<Tokenizer> tok, DspSettings s,
                 std::string meta)
      : EventBatches(std::move(meta)),
        audio_(std::move(audio)),
        tok_(std::move(tok)),
        s_(s),
        frames_(audio_->channels()) {}

 protected:
  bool refill(std::string& out) override {
    if (finished_) return false;
    const size_t n = audio_->read(4096);
    if (n)
      tok_->push(audio_->planes(), n);
    else
      tok_->finish();
    finished_ = n == 0;
    TokenBlock b;
    while (tok_->next(b)) tokens_of(b, out);
    if (finished_)
      out += sse("done", ordered_json{{"ok", true}, {"blocks", blocks_}, {"tokens", tokens_}});
    return true;
  }

 private:
  // The block's newest frame, whole (an I block carries it whole, a P block
  // as changes against the frame before).
  void tokens_of(const TokenBlock& b, std::string& out) {
    dsp_tokens::Cursor c(b.data.data(), b.data.size());
    const dsp_tokens::Header h = dsp_tokens::get_header(c);
    if (h.channels != frames_.size() || h.hop != s_.hop)
      throw std::runtime_error("the tokenizer's block does not match its settings");
    if (h.frames == 2) {
      dsp_tokens::Frame skipped;
      for (unsigned ch = 0; ch < h.channels; ch++) dsp_tokens::get_frame(c, h.hop, true, skipped);
    }
    for (unsigned ch = 0; ch < h.channels; ch++)
      dsp_tokens::get_frame(c, h.hop, h.frames == 2, frames_[ch]);
    const double rate = audio_->sample_rate(), n = 2.0 * h.hop;
    for (unsigned ch = 0; ch < h.channels; ch++)
      for (const auto& [bin, v] : frames_[ch]) {
        float re, im;
        dsp_tokens::dequantize(v, re, im);
        const uint8_t rec[6] = {uint8_t(bin),
                                uint8_t(bin >> 8),
                                uint8_t(v.log_magnitude),
                                uint8_t(v.log_magnitude >> 8),
                                uint8_t(v.phase),
                                uint8_t(v.phase >> 8)};
        out += sse("token", ordered_json{{"block_index", blocks_},
                                         {"type", block_type_name(b.type)},
                                         {"pts", b.pts},
                                         {"pts_seconds", double(b.pts) / rate},
                                         {"channel", ch},
                                         {"bin", bin},
                                         {"bin_hz", bin * rate / n},
                                         {"magnitude", std::hypot(re, im) * 2.0 / n},
                                         {"phase", std::atan2(im, re)},
                                         {"token_hex", hex(rec)}});
        tokens_++;
      }
    blocks_++;
  }

  std::unique_ptr<AudioInput> audio_;
  std::unique_ptr<Tokenizer> tok_;
  DspSettings s_;
  std::vector<dsp_tokens::Frame> frames_;
  uint64_t blocks_ = 0, tokens_ = 0;
  bool finished_ = false;
};

}  // namespace

std::unique_ptr<http::Producer> block_body(std::unique_ptr<FileSource> src,
                                           std::unique_ptr<Reader> reader, const Block& b) {
  return std::make_unique<BlockBody>(std::move(src), std::move(reader), b);
}

std::unique_ptr<http::Producer> block_events(std::unique_ptr<FileSource> src,
                                             std::unique_ptr<Reader> reader, BlockSelection sel,
                                             std::string meta_event,
                                             std::atomic<uint64_t>& bytes_sent) {
  return std::make_unique<BlockEvents>(std::move(src), std::move(reader), sel,
                                       std::move(meta_event), bytes_sent);
}

std::unique_ptr<http::Producer> transport_events(UniqueFd fd, uint32_t block_size,
                                                 const Rational& time_base, uint32_t gop,
                                                 std::string meta_event) {
  return std::make_unique<TransportEvents>(std::move(fd), block_size, time_base, gop,
                                           std::move(meta_event));
}

std::unique_ptr<http::Producer> dsp_token_events(std::unique_ptr<AudioInput> audio,
                                                 std::unique_ptr<Tokenizer> tokenizer,
                                                 DspSettings settings, std::string meta_event) {
  return std::make_unique<DspTokenEvents>(std::move(audio), std::move(tokenizer), settings,
                                          std::move(meta_event));
}

}  // namespace h4mk::cli
