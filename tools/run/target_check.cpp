#include "tools/run/target_check.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace vdsotrace::tools {

std::string find_executable(const std::string& command) {
    // A path is run as given: exec says why when it cannot (126 "Permission denied", as a shell).
    if (command.find('/') != std::string::npos) return access(command.c_str(), F_OK) == 0 ? command : "";
    const char* path = getenv("PATH");
    std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        std::string candidate = (dir.empty() ? "." : dir) + "/" + command;
        struct stat st {};
        if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(candidate.c_str(), X_OK) == 0)
            return candidate;
    }
    return "";
}

namespace {

// True when the ELF file has a PT_INTERP (dynamically linked); nullopt-like -1 when unreadable.
int has_interpreter(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    Elf64_Ehdr eh{};
    if (!in.read(reinterpret_cast<char*>(&eh), sizeof eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) return -1;
    if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum > 4096) return -1;
    for (int i = 0; i < eh.e_phnum; ++i) {
        Elf64_Phdr ph{};
        in.seekg(std::streamoff(eh.e_phoff + uint64_t(i) * sizeof ph));
        if (!in.read(reinterpret_cast<char*>(&ph), sizeof ph)) return -1;
        if (ph.p_type == PT_INTERP) return 1;
    }
    return 0;
}

}  // namespace

bool is_statically_linked(const std::string& path) { return has_interpreter(path) == 0; }

bool changes_identity(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 && (st.st_mode & (S_ISUID | S_ISGID)) &&
           (st.st_uid != getuid() || st.st_gid != getgid());
}

std::vector<std::string> preload_blind_spots(const std::string& path, bool static_handled) {
    std::vector<std::string> out;
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) return out;
    if (!static_handled && has_interpreter(path) == 0)
        out.push_back(fmt::format("{} is statically linked: the loader does not apply LD_PRELOAD to it, so none of "
                                  "its clock calls can be seen",
                                  path));
    // A program of the other ELF class: the loader cannot load the (64-bit) shim into it and says
    // only "wrong ELF class ... ignored" on the program's stderr (issue 12).
    {
        std::ifstream in(path, std::ios::binary);
        unsigned char ident[EI_NIDENT] = {};
        if (in.read(reinterpret_cast<char*>(ident), sizeof ident) && memcmp(ident, ELFMAG, SELFMAG) == 0 &&
            ident[EI_CLASS] != (sizeof(void*) == 8 ? ELFCLASS64 : ELFCLASS32))
            out.push_back(fmt::format("{} is a {}-bit program: the {}-bit shim cannot be loaded into it, so none of "
                                      "its clock calls can be seen",
                                      path, ident[EI_CLASS] == ELFCLASS32 ? 32 : 64, sizeof(void*) * 8));
    }
    if (changes_identity(path))
        out.push_back(fmt::format("{} is set-user-ID or set-group-ID: the loader ignores LD_PRELOAD for it, so "
                                  "none of its clock calls can be seen",
                                  path));
    return out;
}

}  // namespace vdsotrace::tools
