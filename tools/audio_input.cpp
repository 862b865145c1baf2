#include "audio_input.hpp"

#include <sndfile.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace h4mk::cli {

constexpr uint32_t kMaxChannels = 8, kMaxRate = 768000;

struct AudioInput::File {
  SNDFILE* f = nullptr;
  int fd = -1;  // libsndfile reads it; closed here, after sf_close
  ~File() {
    if (f) sf_close(f);
    if (fd >= 0) ::close(fd);
  }
};

namespace {

bool says_wav(int fd) {
  unsigned char head[12] = {};
  const bool ok = ::pread(fd, head, sizeof head, 0) == static_cast<ssize_t>(sizeof head);
  return ok && (std::memcmp(head, "RIFF", 4) == 0 || std::memcmp(head, "RF64", 4) == 0) &&
         std::memcmp(head + 8, "WAVE", 4) == 0;
}

}  // namespace

AudioInput::AudioInput(int fd, const AudioFormat& format) : file_(std::make_unique<File>()) {
  container_ = format.container.empty() ? (says_wav(fd) ? "wav" : "s16le") : format.container;
  SF_INFO info{};
  if (container_ == "wav") {
    if (format.channels)
      throw std::invalid_argument("channels is for PCM; a WAV file says its own");
    // libsndfile opens every format it knows whatever it is asked for: only
    // a WAV (or RF64) header reaches it, so none of its other parsers runs.
    if (!says_wav(fd))
      throw std::invalid_argument("not a WAV file: it does not start with RIFF/RF64 ... WAVE");
  } else if (container_ == "s16le" || container_ == "f32le") {
    if (!format.sample_rate)
      throw std::invalid_argument("PCM (" + container_ + ") needs sample_rate");
    info.samplerate = static_cast<int>(format.sample_rate);
    info.channels = static_cast<int>(format.channels ? format.channels : 1);
    info.format = SF_FORMAT_RAW | SF_ENDIAN_LITTLE |
                  (container_ == "s16le" ? SF_FORMAT_PCM_16 : SF_FORMAT_FLOAT);
    if (format.sample_rate > kMaxRate || info.channels > static_cast<int>(kMaxChannels))
      throw std::invalid_argument("PCM of " + std::to_string(format.sample_rate) + " Hz, " +
                                  std::to_string(info.channels) + " channels: at most " +
                                  std::to_string(kMaxRate) + " Hz and " +
                                  std::to_string(kMaxChannels) + " channels");
  } else {
    throw std::invalid_argument("format=" + container_ + ": wav, s16le or f32le");
  }
  file_->fd = ::dup(fd);
  if (file_->fd < 0 || ::lseek(file_->fd, 0, SEEK_SET) != 0)
    throw std::invalid_argument("cannot read the stored upload");
  file_->f = sf_open_fd(file_->fd, SFM_READ, &info, 0);
  if (!file_->f)
    throw std::invalid_argument("not " + container_ + " audio: " + sf_strerror(nullptr));
  if (container_ == "wav" && (info.format & SF_FORMAT_TYPEMASK) != SF_FORMAT_WAV &&
      (info.format & SF_FORMAT_TYPEMASK) != SF_FORMAT_RF64)
    throw std::invalid_argument("not a WAV file");
  // Samples as PCM or floats only: no ADPCM, GSM or other codec in a WAV.
  switch (info.format & SF_FORMAT_SUBMASK) {
    case SF_FORMAT_PCM_U8:
    case SF_FORMAT_PCM_16:
    case SF_FORMAT_PCM_24:
    case SF_FORMAT_PCM_32:
    case SF_FORMAT_FLOAT:
    case SF_FORMAT_DOUBLE:
      break;
    default:
      throw std::invalid_argument("a WAV file of coded samples (not PCM or float) is not taken");
  }
  if (info.channels < 1 || info.channels > static_cast<int>(kMaxChannels) || info.samplerate < 1 ||
      info.samplerate > static_cast<int>(kMaxRate))
    throw std::invalid_argument("audio of " + std::to_string(info.samplerate) + " Hz, " +
                                std::to_string(info.channels) + " channels: at most " +
                                std::to_string(kMaxRate) + " Hz and " +
                                std::to_string(kMaxChannels) + " channels");
  if (container_ == "wav" && format.sample_rate &&
      format.sample_rate != static_cast<uint32_t>(info.samplerate))
    throw std::invalid_argument("sample_rate=" + std::to_string(format.sample_rate) +
                                " but the WAV file is " + std::to_string(info.samplerate) + " Hz");
  rate_ = static_cast<uint32_t>(info.samplerate);
  channels_ = static_cast<uint32_t>(info.channels);
  planes_.resize(channels_);
  plane_ptrs_.assign(channels_, nullptr);
}

AudioInput::~AudioInput() = default;

size_t AudioInput::read(size_t max_frames) {
  interleaved_.resize(max_frames * channels_);
  const sf_count_t n =
      sf_readf_float(file_->f, interleaved_.data(), static_cast<sf_count_t>(max_frames));
  const size_t frames = n > 0 ? static_cast<size_t>(n) : 0;
  for (uint32_t c = 0; c < channels_; c++) {
    planes_[c].resize(frames);
    for (size_t i = 0; i < frames; i++) planes_[c][i] = interleaved_[i * channels_ + c];
    plane_ptrs_[c] = planes_[c].data();
  }
  return frames;
}

}  // namespace h4mk::cli
