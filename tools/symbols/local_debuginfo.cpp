#include "tools/symbols/local_debuginfo.h"

#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <gelf.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace vdsotrace::tools {

namespace {

// Whether the ELF file open at `fd` carries the build id `id` (a debug file made for this module).
bool has_build_id(int fd, const unsigned char* id, int id_len) {
    Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
    if (elf == nullptr) return false;
    const void* bits = nullptr;
    const ssize_t n = dwelf_elf_gnu_build_id(elf, &bits);
    const bool same = n > 0 && n == id_len && std::memcmp(bits, id, size_t(n)) == 0;
    elf_end(elf);
    return same;
}

// Opens `path` when it is the debug file of the module with build id `id` (any file, when the
// module has none to compare), giving libdwfl its name.
int open_candidate(const std::string& path, const unsigned char* id, int id_len, char** debuginfo_file_name) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return -1;
    if (id_len > 0 && !has_build_id(fd, id, id_len)) {
        close(fd);
        return -1;
    }
    if (debuginfo_file_name != nullptr) *debuginfo_file_name = strdup(path.c_str());
    return fd;
}

}  // namespace

bool debuginfod_configured() {
    const char* urls = getenv("DEBUGINFOD_URLS");
    return urls != nullptr && urls[strspn(urls, " \t")] != '\0';
}

int find_debuginfo_here(Dwfl_Module* mod, void** userdata, const char* modname, Dwarf_Addr base,
                        const char* file_name, const char* debuglink_file, GElf_Word debuglink_crc,
                        char** debuginfo_file_name) {
    if (debuginfod_configured())
        return dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name, debuglink_file, debuglink_crc,
                                            debuginfo_file_name);
    const int by_id = dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file_name, debuglink_file,
                                                   debuglink_crc, debuginfo_file_name);
    if (by_id >= 0) return by_id;
    if (debuglink_file == nullptr || debuglink_file[0] == '\0' || std::strchr(debuglink_file, '/') != nullptr ||
        file_name == nullptr)
        return -1;
    const unsigned char* id = nullptr;
    GElf_Addr id_vaddr = 0;
    const int id_len = dwfl_module_build_id(mod, &id, &id_vaddr);
    const std::string file = file_name;
    const size_t slash = file.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : file.substr(0, slash);
    for (const std::string& candidate : {dir + "/" + debuglink_file, dir + "/.debug/" + debuglink_file,
                                         "/usr/lib/debug" + dir + "/" + debuglink_file}) {
        if (candidate == file) continue;
        const int fd = open_candidate(candidate, id, id_len > 0 ? id_len : 0, debuginfo_file_name);
        if (fd >= 0) return fd;
    }
    return -1;
}

}  // namespace vdsotrace::tools
