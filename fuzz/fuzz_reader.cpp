// Whole-file fuzzing: open (attachments included), iterate every block,
// strictly and then handing out damaged groups, seek (one track, every
// track), decode chains, verify.
// The input is a file; the reader must never crash, hang or over-allocate.
#include <cstddef>
#include <cstdint>

#include "h4mk/h4mk.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace h4mk;
  std::span<const uint8_t> file(data, size);
  try {
    MemorySource src(file);
    Reader r(src);
    Block b;
    size_t n = 0;
    for (ReadEvent ev; (ev = r.next(b)) != ReadEvent::kEnd && n < 100000; ++n) {
    }
    size_t attached = 0;
    for (const Attachment& a : r.attachments()) attached += a.data.size() + a.filename.size();
    (void)attached;
    {
      MemorySource src2(file);
      Reader salvaging(src2);
      salvaging.hand_out_damaged_groups();
      n = 0;
      for (ReadEvent ev; (ev = salvaging.next(b)) != ReadEvent::kEnd && n < 100000; ++n) {
      }
    }
    for (const Track& t : r.tracks()) {
      r.summary(t.id);
      for (int64_t target : {int64_t(0), int64_t(1000), int64_t(-5)}) {
        try {
          r.seek(t.id, target);
          r.decode_chain(t.id, target);
          r.seek(t.id, target, SeekMode::kKeyAfter);
          r.seek_without_index(t.id, target);
        } catch (const Error&) {
        }
        try {  // every track resumed, then read on for a while
          r.seek_all(t.id, target);
          for (int k = 0; k < 200 && r.next(b) != ReadEvent::kEnd; ++k) {
          }
        } catch (const Error&) {
        }
      }
    }
  } catch (const Error&) {
  }
  MemorySource again(file);
  verify(again);
  return 0;
}
