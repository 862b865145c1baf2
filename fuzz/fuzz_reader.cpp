// Whole-file fuzzing: open (attachments included), iterate every block,
// strictly and then handing out damaged groups, seek (one track, every
// track, and what reading says after seek_all, holding or streaming), decode
// chains, verify, repair (its output verifies, and keeps the chunks of
// unknown tags safe to copy, in order).
// The input is a file; the reader must never crash, hang or over-allocate.
// Each read is made twice, holding every group and streaming every group
// (ReaderOptions::hold_groups_up_to), and the two must say the same, as must
// reading by runs (Reader::next_run, each run's blocks spelled out); seeks
// stream or hold by the input's size.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "h4mk/h4mk.hpp"

namespace {

using namespace h4mk;

struct SeekAll {
  uint16_t track;
  int64_t t;
};

// What next() (or next_run(), a run's blocks one by one) says, as text:
// events, timing, offsets, damage and the bytes; from the start, or after
// seek_all (where it lands, then what follows).
std::string events(std::span<const uint8_t> file, uint32_t hold, bool damaged, bool runs = false,
                   std::optional<SeekAll> seek = std::nullopt) {
  std::string out;
  try {
    MemorySource src(file);
    ReaderOptions o;
    o.hold_groups_up_to = hold;
    Reader r(src, o);
    r.hand_out_damaged_groups(damaged);
    if (seek) {
      const SeekPoint p = r.seek_all(seek->track, seek->t);
      out += "S" + std::to_string(p.chunk_offset) + "/" + std::to_string(p.index_in_group);
    }
    Block b;
    size_t n = 0;
    uint32_t count = 1;
    for (ReadEvent ev;
         (ev = runs ? r.next_run(b, count) : r.next(b)) != ReadEvent::kEnd && n < 100000;) {
      if (ev == ReadEvent::kDamage) {
        if (runs && count != 0) __builtin_trap();
        out += "D" + std::to_string(r.last_damage().offset) + r.last_damage().message;
        ++n;
        continue;
      }
      if (count == 0 || b.data.size() % count) __builtin_trap();
      const size_t size = b.data.size() / count;
      for (uint32_t i = 0; i < count; ++i, ++n) {
        // A run's blocks are FIXED_SIZE: each pts one duration on, dts = pts.
        const int64_t pts = int64_t(uint64_t(b.info.pts) + uint64_t(i) * uint64_t(b.info.duration));
        out += "B" + std::to_string(pts) + "/" + std::to_string(i ? pts : b.info.dts) + "/" +
               std::to_string(b.chunk_offset) + "/" + std::to_string(b.index_in_group + i) +
               (b.damaged ? "d" : "");
        if (i == 0) out.append(b.side_data.begin(), b.side_data.end());
        out += '|';
        out.append(b.data.begin() + ptrdiff_t(i * size),
                   b.data.begin() + ptrdiff_t((i + 1) * size));
      }
      if (!runs) count = 1;
    }
  } catch (const Error& e) {
    out += "E";
    out += e.what();
  }
  return out;
}

// The chunks of unknown tags safe to copy a reader meets reading the file
// through (tag and payload, in order), and how many blocks it hands out.
std::pair<std::string, size_t> safe_unknown_chunks(std::span<const uint8_t> file) {
  std::string seen;
  size_t blocks = 0;
  auto add = [&](const UnknownChunk& c) {
    if (!c.safe_to_copy() || !c.held) return;
    seen.append(c.tag.data(), 4);
    seen += std::to_string(c.payload.size()) + ":";
    seen.append(c.payload.begin(), c.payload.end());
  };
  MemorySource src(file);
  Reader r(src);
  for (const UnknownChunk& c : r.head_unknown_chunks()) add(c);
  r.on_unknown_chunk(add);
  Block b;
  for (ReadEvent ev; (ev = r.next(b)) != ReadEvent::kEnd && blocks < 100000;)
    blocks += ev == ReadEvent::kBlock;
  return {seen, blocks};
}

void check_repair(std::span<const uint8_t> file) {
  MemorySink out;
  RepairReport rep;
  std::pair<std::string, size_t> before;
  try {
    before = safe_unknown_chunks(file);
    MemorySource src(file);
    rep = repair(src, out);
  } catch (const Error&) {
    return;  // not openable, or a limit: nothing written to check
  }
  MemorySource written(out.bytes());
  if (!verify(written).ok()) __builtin_trap();
  const auto after = safe_unknown_chunks(out.bytes());
  if (after.first != before.first || after.second != rep.blocks_kept) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> file(data, size);
  for (bool damaged : {false, true}) {
    const std::string held = events(file, 0, damaged);  // 0: every group held
    if (events(file, 1, damaged) != held) __builtin_trap();
    if (events(file, 0, damaged, /*runs=*/true) != held) __builtin_trap();
  }
  try {
    MemorySource src(file);
    ReaderOptions o;
    o.hold_groups_up_to = size & 1;
    Reader r(src, o);
    Block b;
    size_t attached = 0;
    for (const Attachment& a : r.attachments()) attached += a.data.size() + a.filename.size();
    (void)attached;
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
        // Held, the landing group is kept decoded for reading to take;
        // streamed, it is read again: both say the same.
        if (events(file, 0, false, false, SeekAll{t.id, target}) !=
            events(file, 1, false, false, SeekAll{t.id, target}))
          __builtin_trap();
      }
    }
  } catch (const Error&) {
  }
  MemorySource again(file);
  verify(again);
  check_repair(file);
  return 0;
}
