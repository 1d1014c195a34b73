#include "tools/vdso_doctor/vdso_inspect.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "tracer/common/vdso_image.h"

namespace vdsotrace::doctor {

namespace {

std::string proc_path(int pid, const char* what) {
    return pid == 0 ? fmt::format("/proc/self/{}", what) : fmt::format("/proc/{}/{}", pid, what);
}

bool is_vdso_name(const std::string& n) { return n == "[vdso]" || n.rfind("[vvar", 0) == 0; }

// Lines of /proc/PID/smaps (or maps): a mapping line starts with "start-end perms ...".
std::vector<Mapping> read_mappings(int pid, bool* ok) {
    std::vector<Mapping> out;
    std::ifstream in(proc_path(pid, "smaps"));
    if (!in) in.open(proc_path(pid, "maps"));
    *ok = bool(in);
    std::string line;
    Mapping* current = nullptr;
    while (std::getline(in, line)) {
        unsigned long long start = 0, end = 0;
        char perms[8] = {};
        int consumed = 0;
        if (sscanf(line.c_str(), "%llx-%llx %7s %*s %*s %*s%n", &start, &end, perms, &consumed) == 3 &&
            consumed > 0) {
            std::string name = line.substr(size_t(consumed));
            name.erase(0, name.find_first_not_of(' '));
            current = nullptr;
            if (is_vdso_name(name)) {
                out.push_back({name, start, end, perms, {}});
                current = &out.back();
            }
            continue;
        }
        if (current == nullptr) continue;
        char key[64] = {};
        unsigned long long kb = 0;
        if (sscanf(line.c_str(), "%63[^:]: %llu kB", key, &kb) == 2) current->smaps_kb[key] = kb;
    }
    // [vdso] first.
    std::stable_sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.name == "[vdso]" && b.name != "[vdso]"; });
    return out;
}

std::string read_line(const char* path) {
    std::ifstream in(path);
    std::string s;
    std::getline(in, s);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\n')) s.pop_back();
    return s;
}

std::string hex(const unsigned char* p, size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += fmt::format("{:02x}", p[i]);
    return s;
}

// Walks the PT_NOTE segments of an image copy, every offset checked.
void read_notes(const std::vector<unsigned char>& img, VdsoInfo* out) {
    if (img.size() < sizeof(ElfW(Ehdr))) return;
    ElfW(Ehdr) eh;
    memcpy(&eh, img.data(), sizeof eh);
    if (eh.e_phentsize != sizeof(ElfW(Phdr)) || eh.e_phoff > img.size() ||
        uint64_t(eh.e_phnum) * sizeof(ElfW(Phdr)) > img.size() - eh.e_phoff)
        return;
    for (unsigned i = 0; i < eh.e_phnum; ++i) {
        ElfW(Phdr) ph;
        memcpy(&ph, img.data() + eh.e_phoff + i * sizeof ph, sizeof ph);
        if (ph.p_type != PT_NOTE || ph.p_offset > img.size() || ph.p_filesz > img.size() - ph.p_offset) continue;
        uint64_t p = ph.p_offset;
        const uint64_t end = ph.p_offset + ph.p_filesz;
        while (end - p >= sizeof(ElfW(Nhdr))) {
            ElfW(Nhdr) n;
            memcpy(&n, img.data() + p, sizeof n);
            const uint64_t name = p + sizeof n;
            const uint64_t desc = name + ((uint64_t(n.n_namesz) + 3) & ~3ull);
            if (desc > end || n.n_descsz > end - desc) break;
            const std::string owner(reinterpret_cast<const char*>(img.data() + name),
                                    strnlen(reinterpret_cast<const char*>(img.data() + name), n.n_namesz));
            if (owner == "GNU" && n.n_type == NT_GNU_BUILD_ID) out->build_id = hex(img.data() + desc, n.n_descsz);
            // The kernel's own note: LINUX_VERSION_CODE as a 32-bit word (a << 16 | b << 8 | c).
            if (owner == "Linux" && n.n_type == 0 && n.n_descsz == 4) {
                uint32_t v;
                memcpy(&v, img.data() + desc, 4);
                out->linux_version = fmt::format("{}.{}.{}", v >> 16, (v >> 8) & 0xff, v & 0xff);
            }
            // LINUX_ELFNOTE_BUILD_SALT: a string some distributions set to their release name.
            if (owner == "Linux" && n.n_type == 0x100 && n.n_descsz > 0) {
                const char* d = reinterpret_cast<const char*>(img.data() + desc);
                out->build_salt = std::string(d, strnlen(d, n.n_descsz));
            }
            p = desc + ((uint64_t(n.n_descsz) + 3) & ~3ull);
        }
    }
}

}  // namespace

const Mapping* VdsoInfo::vdso() const {
    for (const Mapping& m : mappings)
        if (m.name == "[vdso]") return &m;
    return nullptr;
}

bool describe_image(const std::vector<unsigned char>& image, uint64_t runtime_base, VdsoInfo* out,
                    std::string* error) {
    vdso::Image img;
    const vdso::ParseError e = vdso::parse(image.data(), image.size(), &img);
    if (e != vdso::ParseError::kNone) {
        *error = fmt::format("the vDSO image does not parse: {}", vdso::to_string(e));
        return false;
    }
    struct Ctx {
        VdsoInfo* out;
        uint64_t base, runtime;
    } ctx{out, uint64_t(reinterpret_cast<uintptr_t>(image.data())), runtime_base};
    out->symbols.clear();
    vdso::for_each_symbol(
        img,
        [](const vdso::Symbol& s, void* p) {
            auto* c = static_cast<Ctx*>(p);
            VdsoSymbol v;
            v.name = s.name;
            v.version = s.version ? s.version : "";
            v.function = s.type == STT_FUNC;
            // Absolute (version-name) symbols are not relocated: keep their value.
            v.address = v.function ? s.address - c->base + c->runtime : s.address;
            v.size = s.size;
            c->out->symbols.push_back(std::move(v));
        },
        &ctx);
    read_notes(image, out);
    return true;
}

std::optional<VdsoInfo> inspect_vdso(int pid, std::string* error) {
    VdsoInfo info;
    info.pid = pid == 0 ? int(getpid()) : pid;
    bool ok = false;
    info.mappings = read_mappings(pid, &ok);
    if (!ok) {
        const int err = errno;
        *error = fmt::format("cannot read {}: {}", proc_path(pid, "maps"),
                             err == ENOENT  ? "no such process"
                             : err == EACCES ? "permission denied (another user's process: run as root)"
                                             : strerror(err));
        return std::nullopt;
    }
    const Mapping* v = info.vdso();
    if (v == nullptr) {
        *error = pid == 0 ? "this process has no vDSO (valgrind and some sandboxes hide it)"
                          : fmt::format("process {} has no [vdso] mapping (valgrind hides it; a 32-bit or "
                                        "static program may have none)",
                                        pid);
        return std::nullopt;
    }
    info.image.resize(v->end - v->start);
    if (pid == 0 || pid == getpid()) {
        memcpy(info.image.data(), reinterpret_cast<const void*>(v->start), info.image.size());
    } else {
        int fd = open(proc_path(pid, "mem").c_str(), O_RDONLY | O_CLOEXEC);
        ssize_t got = fd < 0 ? -1 : pread(fd, info.image.data(), info.image.size(), off_t(v->start));
        const int err = errno;
        if (fd >= 0) close(fd);
        if (got != ssize_t(info.image.size())) {
            *error = fmt::format(
                "cannot read the vDSO of process {} from /proc/{}/mem: {}. Reading another process's memory "
                "needs ptrace permission: run as the same user with kernel.yama.ptrace_scope=0, or as root",
                pid, pid, got < 0 ? strerror(err) : "short read");
            return std::nullopt;
        }
    }
    // The live vDSO mapping may end with padding beyond the ELF's last loaded byte; keep the
    // whole mapping (what readelf sees is the same).
    if (!describe_image(info.image, v->start, &info, error)) return std::nullopt;
    info.clocksource = read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource");
    std::istringstream avail(read_line("/sys/devices/system/clocksource/clocksource0/available_clocksource"));
    for (std::string s; avail >> s;) info.available_clocksources.push_back(s);
    return info;
}

}  // namespace vdsotrace::doctor
