// Audio from an upload, for the tokenizing endpoints: a WAV file (read by
// libsndfile, which checks it is one) or headerless PCM, pulled in pieces as
// planar floats so an upload is never decoded into memory whole.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace h4mk::cli {

struct AudioFormat {
  std::string container;     // "wav", "s16le" or "f32le"; "" = wav if it says RIFF/WAVE, else s16le
  uint32_t sample_rate = 0;  // required for PCM; for WAV, if set, must agree
  uint32_t channels = 0;     // PCM: 0 = 1
};

class AudioInput {
 public:
  // fd: the upload (read from its start; not closed). Throws std::invalid_argument
  // with a message for the client.
  AudioInput(int fd, const AudioFormat& format);
  ~AudioInput();
  AudioInput(const AudioInput&) = delete;
  AudioInput& operator=(const AudioInput&) = delete;

  uint32_t sample_rate() const { return rate_; }
  uint32_t channels() const { return channels_; }
  const std::string& container() const { return container_; }
  // Up to max_frames frames into planes()[c][0..n); returns n (0 at the end).
  size_t read(size_t max_frames);
  const float* const* planes() const { return plane_ptrs_.data(); }

 private:
  struct File;
  std::unique_ptr<File> file_;
  uint32_t rate_ = 0, channels_ = 0;
  std::string container_;
  std::vector<float> interleaved_;
  std::vector<std::vector<float>> planes_;
  std::vector<const float*> plane_ptrs_;
};

}  // namespace h4mk::cli
