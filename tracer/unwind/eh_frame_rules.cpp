// See eh_frame_rules.h. The format is the LSB's "Exception Frames" and DWARF 4's call frame
// information (section 6.4); libgcc's unwind-dw2-fde.c and unwind-dw2.c read it the same way.
// (This reader replaced two: the clock wrappers' and the one for libc's internal calls.)
#include "tracer/unwind/eh_frame_rules.h"

#include <cstring>

namespace vdsotrace::tracer::unwind {

#if defined(__x86_64__)
namespace {

constexpr unsigned kRegFp = 6;   // DWARF register numbers, x86_64 psABI
constexpr unsigned kRegSp = 7;
constexpr uint8_t kEncOmit = 0xff;

struct Reader {
    const uint8_t* p;
    const uint8_t* end;
    bool ok = true;

    bool have(uint64_t n) {
        if (!ok || uint64_t(end - p) < n) ok = false;
        return ok;
    }
    uint8_t u8() { return have(1) ? *p++ : 0; }
    template <class T>
    T fixed() {
        T v{};
        if (have(sizeof v)) {
            memcpy(&v, p, sizeof v);
            p += sizeof v;
        }
        return v;
    }
    uint64_t uleb() {
        uint64_t v = 0;
        for (unsigned shift = 0; have(1); shift += 7) {
            const uint8_t b = *p++;
            if (shift < 64) v |= uint64_t(b & 0x7f) << shift;
            if (!(b & 0x80)) return v;
        }
        return 0;
    }
    int64_t sleb() {
        int64_t v = 0;
        unsigned shift = 0;
        uint8_t b = 0;
        do {
            if (!have(1)) return 0;
            b = *p++;
            if (shift < 64) v |= int64_t(b & 0x7f) << shift;
            shift += 7;
        } while (b & 0x80);
        if (shift < 64 && (b & 0x40)) v |= -(int64_t(1) << shift);
        return v;
    }
    // A pointer in DW_EH_PE encoding `enc`; `data_base` for datarel (the .eh_frame_hdr).
    uint64_t pointer(uint8_t enc, uintptr_t data_base) {
        if (enc == kEncOmit) return 0;
        const uintptr_t here = uintptr_t(p);
        uint64_t v = 0;
        switch (enc & 0x0f) {
            case 0x00: v = fixed<uint64_t>(); break;
            case 0x01: v = uleb(); break;
            case 0x02: v = fixed<uint16_t>(); break;
            case 0x03: v = fixed<uint32_t>(); break;
            case 0x04: v = fixed<uint64_t>(); break;
            case 0x09: v = uint64_t(sleb()); break;
            case 0x0a: v = uint64_t(int64_t(fixed<int16_t>())); break;
            case 0x0b: v = uint64_t(int64_t(fixed<int32_t>())); break;
            case 0x0c: v = fixed<uint64_t>(); break;
            default: ok = false; return 0;
        }
        switch (enc & 0x70) {
            case 0x00: break;
            case 0x10: v += here; break;       // pcrel
            case 0x30: v += data_base; break;  // datarel
            default: ok = false; return 0;     // textrel, funcrel: not used on x86_64
        }
        if (enc & 0x80) ok = false;  // indirect: not for code addresses
        return v;
    }
};

// Size in bytes of a pointer of encoding `enc` (fixed-size encodings only).
unsigned fixed_size(uint8_t enc) {
    switch (enc & 0x0f) {
        case 0x02: case 0x0a: return 2;
        case 0x03: case 0x0b: return 4;
        case 0x00: case 0x04: case 0x0c: return 8;
        default: return 0;
    }
}

// What a register's rule says, as far as the unwinder needs it.
enum class Where : uint8_t { kSame, kAt, kUndefined, kUnknown };

struct RegRule {
    Where where = Where::kSame;
    int64_t at = 0;  // kAt: the value is saved at CFA + at
};

struct State {
    unsigned cfa_reg = kRegSp;
    int64_t cfa_off = 8;
    bool cfa_known = true;
    RegRule fp;
    RegRule ra;
};

struct Cie {
    uint64_t code_align = 1;
    int64_t data_align = -8;
    uint8_t fde_enc = 0;
    uint64_t ra_reg = 16;
    bool has_aug_data = false;
    bool signal_frame = false;
    const uint8_t* insns = nullptr;
    const uint8_t* end = nullptr;
};

bool parse_cie(const uint8_t* at, Cie* c) {
    Reader r{at, at + 12};
    uint32_t len = r.fixed<uint32_t>();
    if (!r.ok || len == 0 || len == 0xffffffffu || len > (1u << 20)) return false;
    r.end = at + 4 + len;
    if (r.fixed<uint32_t>() != 0) return false;  // not a CIE
    const uint8_t version = r.u8();
    if (version != 1 && version != 3 && version != 4) return false;
    const char* aug = reinterpret_cast<const char*>(r.p);
    const size_t aug_len = strnlen(aug, size_t(r.end - r.p));
    r.p += aug_len + 1;
    if (aug_len >= 2 && aug[0] == 'e' && aug[1] == 'h') r.fixed<uint64_t>();
    if (version >= 4) r.p += 2;  // address_size, segment_selector_size
    c->code_align = r.uleb();
    c->data_align = r.sleb();
    c->ra_reg = version == 1 ? r.u8() : r.uleb();  // the return address register (16)
    if (aug[0] == 'z') {
        c->has_aug_data = true;
        const uint64_t n = r.uleb();
        const uint8_t* after = r.p + n;
        for (size_t i = 1; i < aug_len && r.ok; ++i) {
            switch (aug[i]) {
                case 'R': c->fde_enc = r.u8(); break;
                case 'L': r.u8(); break;
                case 'P': { const uint8_t e = r.u8(); r.pointer(e & 0x7f, 0); break; }
                case 'S': c->signal_frame = true; break;
                case 'B': break;
                default: i = aug_len; break;  // unknown: skip the rest by its length
            }
        }
        r.p = after;
    }
    c->insns = r.p;
    c->end = r.end;
    return r.ok && r.p <= r.end;
}

// The rule of register `reg`, when it is one the unwinder follows (null otherwise).
RegRule* rule_of(State* s, const Cie& cie, uint64_t reg) {
    if (reg == kRegFp) return &s->fp;
    if (reg == cie.ra_reg) return &s->ra;
    return nullptr;
}

// Runs CFA instructions until the location passes `pc`. `initial`: the CIE's rules (for restore).
// False when an instruction is malformed or not known at all; rules this reader cannot follow
// only mark their register (or the CFA) unknown.
bool run(const uint8_t* p, const uint8_t* end, const Cie& cie, uint64_t loc, uint64_t pc, State* s,
         const State& initial) {
    Reader r{p, end};
    State stack[8];
    unsigned depth = 0;
    auto set = [&](uint64_t reg, Where where, int64_t at = 0) {
        if (RegRule* rule = rule_of(s, cie, reg)) *rule = {where, at};
    };
    auto restore = [&](uint64_t reg) {
        if (reg == kRegFp) s->fp = initial.fp;
        else if (reg == cie.ra_reg) s->ra = initial.ra;
    };
    while (r.p < r.end && r.ok) {
        const uint8_t op = r.u8();
        const uint8_t low = op & 0x3f;
        uint64_t advance = 0;
        switch (op >> 6) {
            case 1: advance = low * cie.code_align; break;
            case 2: set(low, Where::kAt, int64_t(r.uleb()) * cie.data_align); continue;  // offset
            case 3: restore(low); continue;
            default: break;
        }
        if (op >> 6 == 0) {
            uint64_t reg = 0, n = 0;
            switch (op) {
                case 0x00: break;
                case 0x01: return false;  // set_loc: not emitted for x86_64 code
                case 0x02: advance = r.u8() * cie.code_align; break;
                case 0x03: advance = r.fixed<uint16_t>() * cie.code_align; break;
                case 0x04: advance = r.fixed<uint32_t>() * cie.code_align; break;
                case 0x05:  // offset_extended
                    reg = r.uleb();
                    set(reg, Where::kAt, int64_t(r.uleb()) * cie.data_align);
                    break;
                case 0x06: restore(r.uleb()); break;               // restore_extended
                case 0x07: set(r.uleb(), Where::kUndefined); break;  // undefined
                case 0x08: set(r.uleb(), Where::kSame); break;       // same_value
                case 0x09:  // register: a value kept in another register is not followed
                    reg = r.uleb();
                    r.uleb();
                    set(reg, Where::kUnknown);
                    break;
                case 0x0a:  // remember_state
                    if (depth == 8) return false;
                    stack[depth++] = *s;
                    break;
                case 0x0b:  // restore_state
                    if (depth == 0) return false;
                    *s = stack[--depth];
                    break;
                case 0x0c:
                    s->cfa_reg = unsigned(r.uleb());
                    s->cfa_off = int64_t(r.uleb());
                    s->cfa_known = true;
                    break;
                case 0x0d: s->cfa_reg = unsigned(r.uleb()); break;
                case 0x0e: s->cfa_off = int64_t(r.uleb()); break;
                case 0x0f:  // def_cfa_expression (stack realignment, PLT stubs, signal frames)
                    n = r.uleb();
                    if (!r.have(n)) return false;
                    r.p += n;
                    s->cfa_known = false;
                    break;
                case 0x10:  // expression
                case 0x16:  // val_expression
                    reg = r.uleb();
                    n = r.uleb();
                    if (!r.have(n)) return false;
                    r.p += n;
                    set(reg, Where::kUnknown);
                    break;
                case 0x11:  // offset_extended_sf
                    reg = r.uleb();
                    set(reg, Where::kAt, r.sleb() * cie.data_align);
                    break;
                case 0x12:
                    s->cfa_reg = unsigned(r.uleb());
                    s->cfa_off = r.sleb() * cie.data_align;
                    s->cfa_known = true;
                    break;
                case 0x13: s->cfa_off = r.sleb() * cie.data_align; break;
                case 0x14:  // val_offset
                    reg = r.uleb();
                    r.uleb();
                    set(reg, Where::kUnknown);
                    break;
                case 0x15:  // val_offset_sf
                    reg = r.uleb();
                    r.sleb();
                    set(reg, Where::kUnknown);
                    break;
                case 0x2e: r.uleb(); break;  // GNU_args_size
                case 0x2f:                   // GNU_negative_offset_extended
                    reg = r.uleb();
                    set(reg, Where::kAt, -int64_t(r.uleb()) * cie.data_align);
                    break;
                default: return false;
            }
        }
        if (advance != 0) {
            loc += advance;
            if (loc > pc) return true;
        }
    }
    return r.ok;
}

}  // namespace

bool frame_rule_at(const void* eh_frame_hdr, uintptr_t pc, FrameRule* out) {
    if (eh_frame_hdr == nullptr) return false;
    const auto* hdr = static_cast<const uint8_t*>(eh_frame_hdr);
    const uintptr_t base = uintptr_t(hdr);
    Reader r{hdr, hdr + 4096};
    if (r.u8() != 1) return false;
    const uint8_t eh_frame_enc = r.u8(), count_enc = r.u8(), table_enc = r.u8();
    r.pointer(eh_frame_enc, base);
    const uint64_t count = r.pointer(count_enc, base);
    const unsigned entry = fixed_size(table_enc);
    if (!r.ok || count == 0 || count > (1u << 24) || entry == 0 || (table_enc & 0x70) != 0x30) return false;
    const uint8_t* table = r.p;
    // The table is sorted by initial location: the last entry at or below pc.
    auto loc_of = [&](uint64_t i) {
        Reader e{table + i * 2 * entry, table + (i + 1) * 2 * entry};
        return e.pointer(table_enc, base);
    };
    uint64_t lo = 0, hi = count;
    while (hi - lo > 1) {
        const uint64_t mid = lo + (hi - lo) / 2;
        if (loc_of(mid) <= pc) lo = mid; else hi = mid;
    }
    Reader e{table + lo * 2 * entry, table + (lo + 1) * 2 * entry};
    e.pointer(table_enc, base);
    const auto* fde = reinterpret_cast<const uint8_t*>(e.pointer(table_enc, base));
    if (!e.ok || fde == nullptr) return false;

    Reader f{fde, fde + 8};
    const uint32_t len = f.fixed<uint32_t>();
    if (len == 0 || len == 0xffffffffu || len > (1u << 20)) return false;
    f.end = fde + 4 + len;
    const uint8_t* cie_field = f.p;
    const uint32_t cie_off = f.fixed<uint32_t>();
    if (cie_off == 0) return false;
    Cie cie;
    if (!parse_cie(cie_field - cie_off, &cie)) return false;
    const uint64_t begin = f.pointer(cie.fde_enc, base);
    const uint64_t range = f.pointer(cie.fde_enc & 0x0f, base);
    if (!f.ok || pc < begin || pc >= begin + range) return false;
    if (cie.has_aug_data) {
        const uint64_t n = f.uleb();
        if (!f.have(n)) return false;
        f.p += n;
    }
    State initial;
    if (!run(cie.insns, cie.end, cie, 0, UINT64_MAX, &initial, initial)) return false;
    State s = initial;
    if (!run(f.p, f.end, cie, begin, pc, &s, initial)) return false;
    *out = FrameRule{};
    out->signal_frame = cie.signal_frame;
    if (cie.signal_frame) return true;  // its registers come from the kernel's frame, not from here
    if (!s.cfa_known || (s.cfa_reg != kRegSp && s.cfa_reg != kRegFp) || s.cfa_off <= 0 || s.cfa_off > (1 << 20))
        return false;
    out->cfa_from_fp = s.cfa_reg == kRegFp;
    out->cfa_offset = int32_t(s.cfa_off);
    // An undefined frame pointer is left as it is (libunwind does the same).
    out->fp_known = s.fp.where == Where::kSame || s.fp.where == Where::kUndefined ||
                    (s.fp.where == Where::kAt && s.fp.at > -(1 << 20) && s.fp.at < (1 << 20));
    out->fp_saved_at = s.fp.where == Where::kAt && out->fp_known ? int32_t(s.fp.at) : kFpNotSaved;
    out->outermost = s.ra.where == Where::kUndefined;
    out->ra_known = out->outermost || (s.ra.where == Where::kAt && s.ra.at == -8);
    return true;
}
#else
bool frame_rule_at(const void*, uintptr_t, FrameRule*) { return false; }
#endif

}  // namespace vdsotrace::tracer::unwind
