#include "tools/symbols/go_functions.h"

#include <algorithm>
#include <cstring>

#include "tools/symbols/address_ranges.h"
#include "tools/symbols/elf_entries.h"
#include "tracer/common/go_pclntab.h"

namespace vdsotrace::tools {
namespace {

// The addend of the R_X86_64_RELATIVE relocation that fills the word at link-time `address`, or 0.
uint64_t relocated_value(Elf* elf, uint64_t address) {
    uint64_t value = 0;
    for_each_section_entry(elf, SHT_RELA, [&](Elf_Data* data, const GElf_Shdr&, int i) {
        GElf_Rela rela;
        if (gelf_getrela(data, i, &rela) == nullptr || rela.r_offset != address ||
            GELF_R_TYPE(rela.r_info) != R_X86_64_RELATIVE)
            return true;
        value = uint64_t(rela.r_addend);
        return false;
    });
    return value;
}

}  // namespace

GoFunctionTable GoFunctionTable::from_elf(Elf* elf) {
    GoFunctionTable table;
    size_t shstrndx = 0;
    if (elf == nullptr || elf_getshdrstrndx(elf, &shstrndx) != 0) return table;
    // .gopclntab, or else the table inside .data.rel.ro (position-independent, linked externally).
    const unsigned char* tab = nullptr;
    size_t size = 0;
    uint64_t address = 0;
    for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr; scn = elf_nextscn(elf, scn)) {
        GElf_Shdr shdr;
        if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type == SHT_NOBITS) continue;
        const char* name = elf_strptr(elf, shstrndx, shdr.sh_name);
        const bool own = name != nullptr && strcmp(name, ".gopclntab") == 0;
        if (!own && (name == nullptr || strcmp(name, ".data.rel.ro") != 0 || tab != nullptr)) continue;
        Elf_Data* data = elf_getdata(scn, nullptr);
        if (data == nullptr || data->d_buf == nullptr) continue;
        const auto* bytes = static_cast<const unsigned char*>(data->d_buf);
        const long at = own ? 0 : tracer::go::find_pclntab(bytes, data->d_size);
        if (at < 0) continue;
        tab = bytes + at;
        size = data->d_size - size_t(at);
        address = shdr.sh_addr + uint64_t(at);
        if (own) break;
    }
    tracer::go::PclntabHeader h;
    if (tab == nullptr || !tracer::go::read_pclntab_header(tab, size, &h)) return table;
    // A position-independent binary may leave textStart 0 in the file for the loader to fill in
    // from a relative relocation, whose addend is the link-time value.
    const uint64_t text_start =
        h.text_start != 0 ? h.text_start : relocated_value(elf, address + tracer::go::kPclntabTextStartOffset);
    const bool ok = tracer::go::for_each_go_function(
        tab, size,
        [&](const char* fn, uint64_t b, uint64_t e) {
            table.functions_.push_back({b, e, fn});
            return true;
        },
        text_start);
    if (!ok || !std::is_sorted(table.functions_.begin(), table.functions_.end(),
                               [](const Function& a, const Function& b) { return a.begin < b.begin; }))
        table.functions_.clear();
    return table;
}

const std::string* GoFunctionTable::find(uint64_t vaddr, uint64_t* offset) const {
    const Function* f = range_holding(
        functions_, vaddr, [](const Function& r) { return r.begin; }, [](const Function& r) { return r.end; });
    if (f == nullptr) return nullptr;
    *offset = vaddr - f->begin;
    return &f->name;
}

}  // namespace vdsotrace::tools
