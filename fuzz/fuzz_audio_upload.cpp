// An upload to the audio endpoints of h4mk serve (tools/audio_input.cpp): WAV
// through libsndfile, or PCM, read to the end in pieces. Whatever the bytes
// say, it is refused with a message or read within bounds: at most 8
// channels, and never more samples than a WAV's bytes can code (x16 for the
// most compact codings libsndfile reads in WAV).
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <stdexcept>

#include "../tools/audio_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int fd = memfd_create("upload", MFD_CLOEXEC);
  if (fd < 0) return 0;
  const bool pcm = data[0] & 1;
  if (::write(fd, data + 1, size - 1) != static_cast<ssize_t>(size - 1)) {
    ::close(fd);
    return 0;
  }
  h4mk::cli::AudioFormat format;
  if (pcm) {
    format.container = (data[0] & 2) ? "f32le" : "s16le";
    format.sample_rate = 8000u << (data[0] >> 5);
    format.channels = 1 + ((data[0] >> 2) & 7);
  }
  try {
    h4mk::cli::AudioInput audio(fd, format);
    if (audio.channels() < 1 || audio.channels() > 8) std::abort();
    uint64_t frames = 0;
    for (size_t n; (n = audio.read(1024)) > 0;) {
      frames += n;
      if (frames * audio.channels() > 16 * (size + 4096)) std::abort();
    }
  } catch (const std::invalid_argument&) {
  }
  ::close(fd);
  return 0;
}
