// Registered side data (docs/FORMAT.md §6.1) to and from a program's own
// structs, described member by member (h4mk_struct_map): the program knows
// where its members sit, libh4mk knows the layout's byte order, units,
// enumerations and ranges. FFmpeg's glue maps its side data structs this way.
#include "side_data_struct.hpp"

#include <climits>
#include <cstring>
#include <numeric>
#include <string>

#include "h4mk/error.hpp"

namespace h4mk::detail {

namespace {

using T = SideDataFieldType;

std::string named(const SideDataLayout& l, std::string_view field) {
  return "side data \"" + std::string(l.id) + "\" field " + std::string(field);
}

size_t values_in(const SideDataField& f) { return side_data_field_values(f); }

int64_t get_int(const uint8_t* p, unsigned size, bool is_signed) {
  uint64_t v = 0;
  std::memcpy(&v, p, size);  // the host's own byte order, as the struct has it
  if (size == 8 || !is_signed) return static_cast<int64_t>(v);
  const uint64_t sign = uint64_t{1} << (8 * size - 1);
  return static_cast<int64_t>((v ^ sign) - sign);
}

void set_int(uint8_t* p, unsigned size, int64_t v) {
  const auto u = static_cast<uint64_t>(v);
  std::memcpy(p, &u, size);
}

int get_c_int(const uint8_t* p) {
  int v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

void set_c_int(uint8_t* p, int v) { std::memcpy(p, &v, sizeof v); }

// num/den in units of 1/scale, the nearest, halves away from zero; -1 (which
// no unit field holds) for a rational that is not a number.
int64_t in_units(int num, int den, uint32_t scale) {
  if (den <= 0) return -1;
  const int64_t a = int64_t{num} * scale, half = den / 2;
  return a < 0 ? -((-a + half) / den) : (a + half) / den;
}

// Bits of a field's integers, and whether they are signed.
unsigned bits_of(const SideDataField& f) {
  return f.type == T::kBits ? f.count : 8 * unsigned(side_data_unit_bytes(f.type));
}

bool is_signed_field(const SideDataField& f) {
  return f.type == T::kI16 || f.type == T::kI32 || f.type == T::kI64;
}

// Whether every value of the field fits an integer member of `size` bytes.
bool holds_field(const h4mk_member& m, const SideDataField& f) {
  if ((m.size != 1 && m.size != 2 && m.size != 4 && m.size != 8) || f.type == T::kRational ||
      f.type == T::kReserved || f.type == T::kReservedBits || !f.symbols.empty())
    return false;
  const unsigned bits = 8u * m.size, need = bits_of(f);
  if (m.kind == H4MK_MEMBER_UINT) return !is_signed_field(f) && bits >= need;
  return is_signed_field(f) ? bits >= need : bits > need;
}

// A member's field and where its values start among the layout's.
struct Placed {
  const h4mk_member* member;
  const SideDataField* field;
  size_t first;
};

// Checks that every member names a field of `fields` it can hold, and
// places it.
std::vector<Placed> place(const SideDataLayout& l, std::span<const SideDataField> fields,
                          const h4mk_member* members, size_t count) {
  if (count && !members)
    throw Error(ErrorCode::kInvalidArgument, "side data \"" + std::string(l.id) + "\": no members");
  std::vector<Placed> placed;
  for (size_t i = 0; i < count; ++i) {
    const h4mk_member& m = members[i];
    const std::string_view name = m.field ? m.field : "";
    size_t first = 0;
    const SideDataField* f = nullptr;
    for (const SideDataField& c : fields) {
      if (!name.empty() && c.name == name) {
        f = &c;
        break;
      }
      first += values_in(c);
    }
    if (!f) throw Error(ErrorCode::kInvalidArgument, named(l, name) + " is not in its layout");
    bool fits = false;
    switch (m.kind) {
      case H4MK_MEMBER_UINT:
      case H4MK_MEMBER_INT:
        fits = holds_field(m, *f);
        break;
      case H4MK_MEMBER_RATIONAL:
        fits = f->count == 1 && (f->type == T::kRational || f->scale);
        break;
      case H4MK_MEMBER_ENUM:
        fits = f->count == 1 && !f->symbols.empty() && (m.symbols || !m.nb_symbols);
        break;
    }
    if (!fits) throw Error(ErrorCode::kInvalidArgument, named(l, name) + " cannot be that member");
    placed.push_back({&m, f, first});
  }
  return placed;
}

// The value of the field's symbol the struct's enum value names, -1 if none.
int64_t symbol_index(const SideDataField& f, const h4mk_member& m, int value) {
  for (size_t k = 0; k < m.nb_symbols; ++k) {
    if (m.symbols[k].value != value || !m.symbols[k].name) continue;
    for (size_t i = 0; i < f.symbols.size(); ++i)
      if (f.symbols[i] == m.symbols[k].name) return int64_t(i);
  }
  return -1;
}

// Fields with a single value (an IAMF header's type) need no member.
void fill_fixed(std::span<const SideDataField> fields, int64_t* v) {
  for (const SideDataField& f : fields) {
    if (f.fixed >= 0) *v = f.fixed;
    v += values_in(f);
  }
}

void from_struct(const SideDataLayout& l, std::span<const SideDataField> fields,
                 const std::vector<Placed>& placed, const uint8_t* s, int64_t* v) {
  fill_fixed(fields, v);
  for (const Placed& p : placed) {
    const h4mk_member& m = *p.member;
    const uint8_t* at = s + m.offset;
    int64_t* out = v + p.first;
    const size_t n = values_in(*p.field);
    if (m.present && !get_c_int(s + m.present - 1)) continue;  // stays 0: not known
    switch (m.kind) {
      case H4MK_MEMBER_UINT:
      case H4MK_MEMBER_INT:
        for (size_t k = 0; k < n; ++k)
          out[k] = get_int(at + k * m.size, m.size, m.kind == H4MK_MEMBER_INT);
        break;
      case H4MK_MEMBER_RATIONAL:
        if (p.field->type == T::kRational) {
          out[0] = get_c_int(at);
          out[1] = get_c_int(at + sizeof(int));
        } else {
          out[0] = in_units(get_c_int(at), get_c_int(at + sizeof(int)), p.field->scale);
        }
        break;
      case H4MK_MEMBER_ENUM:
        out[0] = symbol_index(*p.field, m, get_c_int(at));
        if (out[0] < 0)
          throw Error(ErrorCode::kInvalidArgument, named(l, p.field->name) + ": value " +
                                                       std::to_string(get_c_int(at)) +
                                                       " is not one of its symbols");
        break;
    }
  }
}

void to_struct(const SideDataLayout& l, const std::vector<Placed>& placed, const int64_t* v,
               uint8_t* s) {
  for (const Placed& p : placed) {
    const h4mk_member& m = *p.member;
    uint8_t* at = s + m.offset;
    const int64_t* in = v + p.first;
    const size_t n = values_in(*p.field);
    bool set = false;
    switch (m.kind) {
      case H4MK_MEMBER_UINT:
      case H4MK_MEMBER_INT:
        for (size_t k = 0; k < n; ++k) {
          set_int(at + k * m.size, m.size, in[k]);
          set = set || in[k];
        }
        break;
      case H4MK_MEMBER_RATIONAL: {
        // read_side_data_values keeps a rational's values in int's range. A
        // value in units keeps them as its denominator, as MP4's demuxer
        // has it; a u32 above INT_MAX is reduced, and may not fit even so.
        int64_t num = in[0], den = p.field->type == T::kRational ? in[1] : p.field->scale;
        if (num > INT_MAX) {
          const int64_t g = std::gcd(num, den);
          num /= g, den /= g;
          if (num > INT_MAX)
            throw Error(ErrorCode::kCorrupt,
                        named(l, p.field->name) + ": " + std::to_string(in[0]) + " units of 1/" +
                            std::to_string(p.field->scale) + " do not fit an int rational");
        }
        set_c_int(at, static_cast<int>(num));
        set_c_int(at + sizeof(int), static_cast<int>(den));
        set = in[0] != 0;
        break;
      }
      case H4MK_MEMBER_ENUM: {
        const std::string_view symbol = p.field->symbols[size_t(in[0])];
        size_t k = 0;
        while (k < m.nb_symbols && (!m.symbols[k].name || m.symbols[k].name != symbol)) ++k;
        if (k == m.nb_symbols)
          throw Error(ErrorCode::kCorrupt, named(l, p.field->name) + ": symbol " +
                                               std::string(symbol) + " has no value here");
        set_c_int(at, m.symbols[k].value);
        set = true;
        break;
      }
    }
    if (m.present && set) set_c_int(s + m.present - 1, 1);
  }
}

void check_map(const SideDataLayout& l, const h4mk_struct_map& map, size_t entries) {
  if (l.kind != SideDataKind::kFields)
    throw Error(ErrorCode::kInvalidArgument,
                "side data \"" + std::string(l.id) + "\": its layout has no fields");
  if (entries && (l.entry.empty() || !map.entry_at))
    throw Error(ErrorCode::kInvalidArgument,
                "side data \"" + std::string(l.id) + "\": entries without a way to reach them");
}

uint8_t* entry_of(const SideDataLayout& l, const h4mk_struct_map& map, const void* s, size_t i) {
  void* e = map.entry_at(const_cast<void*>(s), i);
  if (!e)
    throw Error(ErrorCode::kInvalidArgument,
                "side data \"" + std::string(l.id) + "\": no entry " + std::to_string(i));
  return static_cast<uint8_t*>(e);
}

}  // namespace

std::vector<uint8_t> side_data_from_struct(const SideDataLayout& l, const h4mk_struct_map& map,
                                           const void* s, size_t entries) {
  check_map(l, map, entries);
  const size_t head = side_data_header_values(l), each = side_data_entry_values(l);
  const std::vector<Placed> header = place(l, l.fields, map.members, map.nb_members);
  const std::vector<Placed> entry = place(l, l.entry, map.entry, map.nb_entry);
  if (entries > (SIZE_MAX / sizeof(int64_t) - head) / (each ? each : 1))
    throw Error(ErrorCode::kInvalidArgument,
                "side data \"" + std::string(l.id) + "\": " + std::to_string(entries) + " entries");
  std::vector<int64_t> values(head + entries * each, 0);
  from_struct(l, l.fields, header, static_cast<const uint8_t*>(s), values.data());
  for (size_t i = 0; i < entries; ++i)
    from_struct(l, l.entry, entry, entry_of(l, map, s, i), values.data() + head + i * each);
  return write_side_data_values(l, values);
}

size_t side_data_entries(const SideDataLayout& l, std::span<const uint8_t> bytes) {
  const size_t head = side_data_header_values(l), each = side_data_entry_values(l);
  const size_t n = read_side_data_values(l, bytes).size();
  return each ? (n - head) / each : 0;
}

void side_data_to_struct(const SideDataLayout& l, const h4mk_struct_map& map,
                         std::span<const uint8_t> bytes, void* s) {
  const size_t head = side_data_header_values(l), each = side_data_entry_values(l);
  const std::vector<int64_t> values = read_side_data_values(l, bytes);
  const size_t entries = each ? (values.size() - head) / each : 0;
  check_map(l, map, entries);
  const std::vector<Placed> header = place(l, l.fields, map.members, map.nb_members);
  const std::vector<Placed> entry = place(l, l.entry, map.entry, map.nb_entry);
  to_struct(l, header, values.data(), static_cast<uint8_t*>(s));
  for (size_t i = 0; i < entries; ++i)
    to_struct(l, entry, values.data() + head + i * each, entry_of(l, map, s, i));
}

}  // namespace h4mk::detail
