// Side data blobs through the C API's walker, and every registered value
// through its layout: what reads must write back to bytes that read the same.
// A packet_flags value reads to flags whose written value reads the same.
// Bytes loaded into a struct through a map (h4mk_struct_map) write back the
// same, and load exactly when they read.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "h4mk/h4mk.h"
#include "h4mk/side_data_layout.hpp"

namespace {

// A struct of one 8-byte slot per value for every field of a layout (the
// last slot of the header points at the entries), and its map: integers as
// 8-byte members, rationals and fields in units as rationals, enumerations
// by symbol with values of their own.
struct Slots {
  std::vector<h4mk_member> members;
  std::vector<std::vector<h4mk_symbol>> symbols;
  size_t slots = 0;
};

Slots slots_of(std::span<const h4mk::SideDataField> fields) {
  using T = h4mk::SideDataFieldType;
  Slots s;
  s.symbols.reserve(fields.size());
  for (const h4mk::SideDataField& f : fields) {
    if (f.name.empty() || f.fixed >= 0) continue;
    h4mk_member m{f.name.data(), uint32_t(8 * s.slots), H4MK_MEMBER_UINT, 8, 0, nullptr, 0};
    size_t used = f.type == T::kBits || f.type == T::kRational ? 1 : f.count;
    if (!f.symbols.empty()) {
      m.kind = H4MK_MEMBER_ENUM;
      auto& list = s.symbols.emplace_back();
      for (size_t i = 0; i < f.symbols.size(); ++i)
        list.push_back({f.symbols[i].data(), int(1000 + i)});
      m.symbols = list.data();
      m.nb_symbols = uint16_t(list.size());
    } else if (f.type == T::kRational || f.scale) {
      m.kind = H4MK_MEMBER_RATIONAL;
    } else if (f.type == T::kI16 || f.type == T::kI32 || f.type == T::kI64) {
      m.kind = H4MK_MEMBER_INT;
    }
    s.members.push_back(m);
    s.slots += used;
  }
  return s;
}

void* entry_slab(void* s, size_t i) {
  std::vector<std::vector<int64_t>>* entries;
  std::memcpy(&entries, s, sizeof entries);
  return (*entries)[i].data();
}

// Loads what reads (the layout's field names are NUL-terminated literals,
// so the map can point at them); what loads writes back as the values do.
void through_struct(const h4mk::SideDataLayout& l, const uint8_t* value, size_t size,
                    const std::vector<uint8_t>& written) {
  const std::string id(l.id);
  const Slots head = slots_of(l.fields), each = slots_of(l.entry);
  size_t n = 0;
  if (h4mk_side_data_entries(id.c_str(), value, size, &n) != H4MK_OK) __builtin_trap();
  std::vector<std::vector<int64_t>> entries(n, std::vector<int64_t>(each.slots));
  // Slot 0 points at the entries; the header's members follow it.
  std::vector<int64_t> slab(head.slots + 1);
  auto* where = &entries;
  std::memcpy(slab.data(), &where, sizeof where);
  std::vector<h4mk_member> members = head.members;
  for (h4mk_member& m : members) m.offset += 8;
  const h4mk_struct_map map = {members.data(), members.size(), each.members.data(),
                               each.members.size(), entry_slab};
  const int loaded = h4mk_side_data_to_struct(id.c_str(), &map, value, size, slab.data());
  if (loaded == H4MK_ERR_CORRUPT) return;  // a value in units no int rational holds
  if (loaded != H4MK_OK) __builtin_trap();
  std::vector<uint8_t> back(written.size());
  size_t got = 0;
  if (h4mk_side_data_from_struct(id.c_str(), &map, slab.data(), n, back.data(), back.size(),
                                 &got) != H4MK_OK ||
      back != written)
    __builtin_trap();
}

void through_layout(const char* key, size_t key_size, const uint8_t* value, size_t size) {
  const h4mk::SideDataLayout* l = h4mk::find_side_data_layout({key, key_size});
  if (!l || l->kind != h4mk::SideDataKind::kFields) return;
  size_t count = 0;
  if (h4mk_side_data_read_values(key, key_size, value, size, nullptr, 0, &count) != H4MK_OK) return;
  std::vector<int64_t> values(count);
  if (h4mk_side_data_read_values(key, key_size, value, size, values.data(), count, &count) !=
      H4MK_OK)
    __builtin_trap();
  std::vector<uint8_t> bytes(size);
  size_t written = 0;
  if (h4mk_side_data_write_values(key, key_size, values.data(), count, bytes.data(), size,
                                  &written) != H4MK_OK ||
      written != size)
    __builtin_trap();
  if (h4mk::read_side_data_values(*l, bytes) != values) __builtin_trap();
  through_struct(*l, value, size, bytes);
}

void through_packet_flags(const uint8_t* value, size_t size) {
  const unsigned flags = h4mk_packet_flags_parse(value, size);
  char text[32];
  const size_t n = h4mk_packet_flags_format(flags, text, sizeof text);
  if (n >= sizeof text ||
      h4mk_packet_flags_parse(reinterpret_cast<const uint8_t*>(text), n) != flags)
    __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  size_t pos = 0, key_size, value_size;
  const char* key;
  const uint8_t* value;
  int rc;
  while ((rc = h4mk_side_data_next(data, size, &pos, &key, &key_size, &value, &value_size)) ==
         H4MK_OK) {
    if (key + key_size > reinterpret_cast<const char*>(data) + size ||
        value + value_size > data + size)
      __builtin_trap();
    through_layout(key, key_size, value, value_size);
    if (key_size == sizeof H4MK_PACKET_FLAGS_KEY - 1 &&
        !__builtin_memcmp(key, H4MK_PACKET_FLAGS_KEY, key_size))
      through_packet_flags(value, value_size);
  }
  return 0;
}
