// The commands that rewrite a file (mask, unmask, compress, decompress) on a
// hostile one: whatever they write verifies, and a file that reads without
// damage comes out with every block it had, the same bytes at the same
// times: masked and read back with the key, compressed, expanded, each
// read back. (repair is fuzzed with the reader, fuzz_reader.)
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "h4mk/h4mk.hpp"

namespace {

using namespace h4mk;

struct Read {
  std::string blocks;  // every block, its timing and bytes, in file order
  bool clean = true;   // no damage, no error
};

Read read(std::span<const uint8_t> file, const MaskKey* key = nullptr) {
  Read out;
  try {
    MemorySource src(file);
    Reader r(src);
    if (key) {
      try {
        r.set_mask_key(*key);
      } catch (const Error& e) {  // it opens no track: the masked ones stay as they are
        if (e.code() != ErrorCode::kKeyMismatch) throw;
      }
    }
    Block b;
    for (ReadEvent ev; (ev = r.next(b)) != ReadEvent::kEnd;) {
      if (ev == ReadEvent::kDamage) {
        out.clean = false;
        continue;
      }
      out.blocks += std::to_string(b.info.track_id) + "/" + std::to_string(int(b.info.type)) + "/" +
                    std::to_string(b.info.pts) + "/" + std::to_string(b.info.dts) + "/" +
                    std::to_string(b.info.duration) + (b.info.discardable ? "d" : "") + ":";
      out.blocks.append(b.side_data.begin(), b.side_data.end());
      out.blocks += '|';
      out.blocks.append(b.data.begin(), b.data.end());
    }
  } catch (const Error&) {
    out.clean = false;
  }
  return out;
}

// What `rewrite` wrote, when it wrote something: it verifies, and reads as
// `before` did if that read was clean.
template <typename Rewrite>
void check(std::span<const uint8_t> file, const Read& before, Rewrite&& rewrite,
           const MaskKey* key = nullptr) {
  MemorySink out;
  try {
    MemorySource src(file);
    Reader r(src);
    rewrite(r, out);
  } catch (const Error&) {
    return;  // refused: a limit, a masked track, a block that does not authenticate
  }
  MemorySource written(out.bytes());
  if (!verify(written).ok()) __builtin_trap();
  if (!before.clean) return;
  const Read after = read(out.bytes(), key);
  if (!after.clean || after.blocks != before.blocks) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t choice = data[0];
  const std::span<const uint8_t> file(data + 1, size - 1);
  const Read before = read(file);
  MaskKey key;
  for (size_t i = 0; i < key.size(); ++i) key[i] = uint8_t(i * 7 + 1);
  const MaskScheme scheme = choice & 1 ? MaskScheme::kAes256Ctr : MaskScheme::kAes256Gcm;
  check(
      file, before, [&](Reader& r, Sink& out) { mask_file(r, out, key, scheme); }, &key);
  if (choice & 2) {  // masked, then opened again: the file's blocks, unmasked
    MemorySink masked;
    try {
      MemorySource src(file);
      Reader r(src);
      mask_file(r, masked, key, scheme);
    } catch (const Error&) {
    }
    if (!masked.bytes().empty())
      check(masked.bytes(), read(masked.bytes(), &key),
            [&](Reader& r, Sink& out) { unmask_file(r, out, key); });
  }
  TrackCompression how;
  how.level = 1;
  check(file, before, [&](Reader& r, Sink& out) { compress_file(r, out, how); });
  check(file, before, [&](Reader& r, Sink& out) { decompress_file(r, out); });
  return 0;
}
