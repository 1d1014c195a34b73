// See cfa_step.h. The formats are the LSB's .eh_frame_hdr and .eh_frame (DWARF call frame
// information with GNU augmentations), as GCC and binutils write them for x86_64 libraries.
#include "shim/cfa_step.h"

#include <cstring>

namespace vdsotrace::shim {
namespace {

// Pointer encodings (DW_EH_PE_*) the loader's and GCC's tables use.
constexpr uint8_t kPeAbsptr = 0x00, kPeUdata4 = 0x03, kPeSdata4 = 0x0b, kPeUdata8 = 0x04, kPeSdata8 = 0x0c;
constexpr uint8_t kPePcrel = 0x10, kPeDatarel = 0x30, kPeOmit = 0xff;
constexpr unsigned kRsp = 7;  // DWARF register number of %rsp on x86_64

struct Reader {
    const uint8_t* p;
    const uint8_t* end;
    bool ok = true;

    uint8_t u8() {
        if (p >= end) return ok = false, 0;
        return *p++;
    }
    template <class T>
    T fixed() {
        T v{};
        if (end - p < static_cast<long>(sizeof v)) return ok = false, v;
        memcpy(&v, p, sizeof v);
        p += sizeof v;
        return v;
    }
    uint64_t uleb() {
        uint64_t v = 0;
        for (unsigned shift = 0; ok; shift += 7) {
            const uint8_t b = u8();
            if (shift < 64) v |= uint64_t(b & 0x7f) << shift;
            if ((b & 0x80) == 0) break;
        }
        return v;
    }
    int64_t sleb() {
        int64_t v = 0;
        unsigned shift = 0;
        uint8_t b = 0;
        do {
            b = u8();
            if (shift < 64) v |= int64_t(b & 0x7f) << shift;
            shift += 7;
        } while (ok && (b & 0x80));
        if (shift < 64 && (b & 0x40)) v |= -(int64_t(1) << shift);
        return v;
    }
    // An encoded pointer; `data_base` for datarel. Only the forms GCC emits are understood.
    uint64_t pointer(uint8_t encoding, uint64_t data_base) {
        const uint64_t here = reinterpret_cast<uintptr_t>(p);
        uint64_t v = 0;
        switch (encoding & 0x0f) {
            case kPeAbsptr:
            case kPeUdata8: v = fixed<uint64_t>(); break;
            case kPeSdata8: v = uint64_t(fixed<int64_t>()); break;
            case kPeUdata4: v = fixed<uint32_t>(); break;
            case kPeSdata4: v = uint64_t(int64_t(fixed<int32_t>())); break;
            default: ok = false; return 0;
        }
        switch (encoding & 0x70) {
            case 0: return v;
            case kPePcrel: return v + here;
            case kPeDatarel: return v + data_base;
            default: ok = false; return 0;
        }
    }
};

// The FDE covering `pc`, through the header's binary-search table; null when there is none.
const uint8_t* find_fde(const uint8_t* hdr, uintptr_t pc) {
    if (hdr[0] != 1) return nullptr;
    const uint8_t frame_enc = hdr[1], count_enc = hdr[2], table_enc = hdr[3];
    if (table_enc != (kPeDatarel | kPeSdata4) || count_enc == kPeOmit) return nullptr;
    Reader r{hdr + 4, hdr + 16};
    r.pointer(frame_enc, 0);
    const uint64_t count = r.pointer(count_enc, 0);
    if (!r.ok || count == 0 || count > (1u << 24)) return nullptr;
    const auto* table = reinterpret_cast<const int32_t*>(r.p);
    const uintptr_t base = reinterpret_cast<uintptr_t>(hdr);
    // The last entry whose start is at or below pc.
    uint64_t lo = 0, hi = count;
    while (hi - lo > 1) {
        const uint64_t mid = (lo + hi) / 2;
        if (base + uintptr_t(int64_t(table[2 * mid])) <= pc) lo = mid;
        else hi = mid;
    }
    if (base + uintptr_t(int64_t(table[2 * lo])) > pc) return nullptr;
    return reinterpret_cast<const uint8_t*>(base + uintptr_t(int64_t(table[2 * lo + 1])));
}

struct Cie {
    uint64_t code_align = 1;
    int64_t data_align = 1;
    uint8_t fde_encoding = kPeAbsptr;
    bool has_augmentation_data = false;
    const uint8_t* instructions = nullptr;
    const uint8_t* end = nullptr;
};

bool read_cie(const uint8_t* at, Cie* cie) {
    uint32_t length;
    memcpy(&length, at, 4);
    if (length == 0 || length == 0xffffffffu) return false;  // 64-bit DWARF: not in libc
    Reader r{at + 4, at + 4 + length};
    if (r.fixed<uint32_t>() != 0) return false;  // not a CIE
    const uint8_t version = r.u8();
    const char* aug = reinterpret_cast<const char*>(r.p);
    const size_t aug_len = strnlen(aug, size_t(r.end - r.p));
    r.p += aug_len + 1;
    if (version >= 4) r.p += 2;  // address_size, segment_selector_size
    cie->code_align = r.uleb();
    cie->data_align = r.sleb();
    if (version == 1) r.u8();
    else r.uleb();  // the return address register
    if (aug_len > 0 && aug[0] == 'z') {
        cie->has_augmentation_data = true;
        const uint64_t size = r.uleb();
        const uint8_t* data_end = r.p + size;
        for (size_t i = 1; i < aug_len && r.ok; ++i) {
            switch (aug[i]) {
                case 'R': cie->fde_encoding = r.u8(); break;
                case 'L': r.u8(); break;
                case 'P': {
                    const uint8_t enc = r.u8();
                    r.pointer(enc & 0x7f, 0);  // indirect or not, its size is the same
                    break;
                }
                case 'S': case 'B': break;
                default: i = aug_len; break;  // unknown: its data is skipped as a whole below
            }
        }
        r.p = data_end;
    } else if (aug_len > 0) {
        return false;  // an augmentation we cannot skip
    }
    cie->instructions = r.p;
    cie->end = r.end;
    return r.ok && r.p <= r.end;
}

struct Rule {
    unsigned reg = kRsp;
    int64_t offset = 8;
    bool known = true;
};

// Runs call frame instructions from `loc` until the location passes `pc`. False when an
// instruction is not understood (the rule is then unknown).
bool execute(Reader r, const Cie& cie, uint64_t loc, uint64_t pc, Rule* rule) {
    Rule saved[8];
    unsigned depth = 0;
    auto advance = [&](uint64_t delta) {
        loc += delta * cie.code_align;
        return loc <= pc;
    };
    while (r.ok && r.p < r.end) {
        const uint8_t op = r.u8();
        switch (op >> 6) {
            case 1:
                if (!advance(op & 0x3f)) return true;
                continue;
            case 2: r.uleb(); continue;  // DW_CFA_offset: where a register is saved
            case 3: continue;            // DW_CFA_restore
            default: break;
        }
        switch (op) {
            case 0x00: break;  // nop
            case 0x02: if (!advance(r.u8())) return true; break;
            case 0x03: if (!advance(r.fixed<uint16_t>())) return true; break;
            case 0x04: if (!advance(r.fixed<uint32_t>())) return true; break;
            case 0x05: r.uleb(); r.uleb(); break;             // offset_extended
            case 0x06: case 0x07: case 0x08: r.uleb(); break; // restore_extended, undefined, same_value
            case 0x09: r.uleb(); r.uleb(); break;             // register
            case 0x0a:                                        // remember_state
                if (depth == 8) return false;
                saved[depth++] = *rule;
                break;
            case 0x0b:  // restore_state
                if (depth == 0) return false;
                *rule = saved[--depth];
                break;
            case 0x0c:  // def_cfa
                rule->reg = unsigned(r.uleb());
                rule->offset = int64_t(r.uleb());
                rule->known = true;
                break;
            case 0x0d: rule->reg = unsigned(r.uleb()); break;          // def_cfa_register
            case 0x0e: rule->offset = int64_t(r.uleb()); break;        // def_cfa_offset
            case 0x0f: r.p += r.uleb(); rule->known = false; break;    // def_cfa_expression
            case 0x10: r.uleb(); r.p += r.uleb(); break;               // expression
            case 0x11: r.uleb(); r.sleb(); break;                      // offset_extended_sf
            case 0x12:                                                 // def_cfa_sf
                rule->reg = unsigned(r.uleb());
                rule->offset = r.sleb() * cie.data_align;
                rule->known = true;
                break;
            case 0x13: rule->offset = r.sleb() * cie.data_align; break;  // def_cfa_offset_sf
            case 0x14: r.uleb(); r.uleb(); break;                        // val_offset
            case 0x15: r.uleb(); r.sleb(); break;                        // val_offset_sf
            case 0x16: r.uleb(); r.p += r.uleb(); break;                 // val_expression
            case 0x2e: r.uleb(); break;                                  // GNU_args_size
            case 0x2f: r.uleb(); r.uleb(); break;                        // GNU_negative_offset_extended
            default: return false;                                       // set_loc and the rest
        }
    }
    return r.ok;
}

}  // namespace

long cfa_offset_at(const void* eh_frame_hdr, uintptr_t return_address) {
    if (eh_frame_hdr == nullptr || return_address == 0) return -1;
    // The call instruction is what is being unwound: look up the byte before the return address.
    const uintptr_t pc = return_address - 1;
    const uint8_t* fde = find_fde(static_cast<const uint8_t*>(eh_frame_hdr), pc);
    if (fde == nullptr) return -1;
    uint32_t length;
    memcpy(&length, fde, 4);
    if (length == 0 || length == 0xffffffffu) return -1;
    Reader r{fde + 4, fde + 4 + length};
    const uint8_t* cie_field = r.p;
    const uint32_t cie_pointer = r.fixed<uint32_t>();
    if (cie_pointer == 0) return -1;  // a CIE, not an FDE
    Cie cie;
    if (!read_cie(cie_field - cie_pointer, &cie)) return -1;
    const uint64_t begin = r.pointer(cie.fde_encoding, 0);
    const uint64_t range = r.pointer(cie.fde_encoding & 0x0f, 0);
    if (!r.ok || pc < begin || pc - begin >= range) return -1;
    if (cie.has_augmentation_data) r.p += r.uleb();
    Rule rule;
    // The CIE's instructions set the rule at the function's entry; the FDE's move through it.
    if (!execute(Reader{cie.instructions, cie.end}, cie, begin, pc, &rule)) return -1;
    if (!execute(r, cie, begin, pc, &rule)) return -1;
    if (!rule.known || rule.reg != kRsp || rule.offset < 8) return -1;
    return long(rule.offset);
}

}  // namespace vdsotrace::shim
