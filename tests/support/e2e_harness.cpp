// The GoogleTest end-to-end drivers' shared harness (see e2e_harness.h).
#include "tests/support/e2e_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

extern char** environ;

namespace vdsotrace::test {

namespace fs = std::filesystem;

namespace {

std::vector<pid_t>& pids() {
    static std::vector<pid_t> p;
    return p;
}

std::set<std::string>& recordings_to_delete() {
    static std::set<std::string> paths;
    return paths;
}

std::string driver_name() {
    std::error_code ec;
    return fs::read_symlink("/proc/self/exe", ec).filename().string();
}

// Runs cleanup_recordings() after every test, whatever the fixture.
class CleanupAfterEachTest : public ::testing::EmptyTestEventListener {
    void OnTestEnd(const ::testing::TestInfo&) override { cleanup_recordings(); }
};

// Removes the driver's temporary directory when the run ends.
class TempDirCleanup : public ::testing::Environment {
public:
    void TearDown() override {
        std::error_code ec;
        const std::string root = temp_dir_root();
        if (contains(root, "/vdsotrace-test-")) fs::remove_all(root, ec);
    }
};

const bool g_registered = [] {
    ::testing::AddGlobalTestEnvironment(new TempDirCleanup);
    ::testing::UnitTest::GetInstance()->listeners().Append(new CleanupAfterEachTest);
    return true;
}();

}  // namespace

std::string env_path(const char* name) {
    const char* v = getenv(name);
    if (v == nullptr || *v == '\0') {
        ADD_FAILURE() << name << " is not set (run the suite through `meson test`)";
        return "/nonexistent/" + std::string(name);
    }
    return v;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string temp_dir_root() {
    static std::string root = [] {
        std::string tmpl = (fs::temp_directory_path() / "vdsotrace-test-XXXXXX").string();
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        if (mkdtemp(buf.data()) == nullptr) return std::string("/tmp");
        chmod(buf.data(), 0755);  // the setuid test's copy runs as nobody
        return std::string(buf.data());
    }();
    return root;
}

std::string temp_path(const std::string& what) { return temp_dir_root() + "/" + what; }

std::vector<std::string> make_env(const EnvOverrides& overrides) {
    std::map<std::string, std::string> env;
    for (char** e = environ; *e; ++e) {
        std::string kv = *e;
        size_t eq = kv.find('=');
        if (eq == std::string::npos) continue;
        std::string k = kv.substr(0, eq);
        // Sanitizer options pass: .ci/sanitize sets them for its sanitized `vdsotrace`.
        if (k == "LD_PRELOAD" || k == "FAKETIME" || k == "LD_BIND_NOW" ||
            (k.rfind("VDSOTRACE_", 0) == 0 && k != "VDSOTRACE_SHIM"))
            continue;
        env[k] = kv.substr(eq + 1);
    }
    for (const auto& [k, v] : overrides) {
        if (v)
            env[k] = *v;
        else
            env.erase(k);
    }
    std::vector<std::string> out;
    for (const auto& [k, v] : env) out.push_back(k + "=" + v);
    return out;
}

pid_t start(const std::vector<std::string>& argv, const std::string& out_path, const std::string& err_path,
            const EnvOverrides& overrides, bool new_group, int stdout_fd) {
    std::vector<std::string> env = make_env(overrides);
    std::vector<char*> cargv, cenv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
    cenv.push_back(nullptr);
    fflush(nullptr);
    pid_t pid = fork();
    if (pid < 0) {
        ADD_FAILURE() << "fork: " << strerror(errno);
        return pid;
    }
    if (pid == 0) {
        if (new_group) setpgid(0, 0);
        int in = open("/dev/null", O_RDONLY);
        int out = stdout_fd >= 0        ? stdout_fd
                  : out_path.empty() ? 1
                                     : open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err = err_path.empty() ? 2 : open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || out < 0 || err < 0) _exit(250);
        dup2(in, 0);
        if (out != 1) dup2(out, 1);
        if (err != 2) dup2(err, 2);
        execvpe(cargv[0], cargv.data(), cenv.data());
        _exit(127);
    }
    pids().push_back(pid);
    return pid;
}

Result run(const std::vector<std::string>& argv, const EnvOverrides& overrides, int timeout_s) {
    static int counter = 0;
    const std::string base = temp_path("proc" + std::to_string(++counter));
    const std::string out_path = base + ".out", err_path = base + ".err";
    Result r;
    r.pid = start(argv, out_path, err_path, overrides);
    if (r.pid < 0) return r;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    for (;;) {
        pid_t w = waitpid(r.pid, &r.status, WNOHANG);
        if (w == r.pid) break;
        if (w < 0 && errno != EINTR) {
            ADD_FAILURE() << "waitpid: " << strerror(errno);
            break;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            kill(r.pid, SIGKILL);
            waitpid(r.pid, &r.status, 0);
            r.timed_out = true;
            ADD_FAILURE() << "timed out after " << timeout_s << " s (a deadlock?): " << argv[0];
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (WIFEXITED(r.status)) r.code = WEXITSTATUS(r.status);
    if (WIFSIGNALED(r.status)) r.signal = WTERMSIG(r.status);
    r.out = read_file(out_path);
    r.err = read_file(err_path);
    unlink(out_path.c_str());
    unlink(err_path.c_str());
    return r;
}

const std::vector<pid_t>& spawned_pids() { return pids(); }

std::string describe(const Result& r) {
    return "exit code " + std::to_string(r.code) + ", signal " + std::to_string(r.signal) + "\n--- stdout:\n" +
           r.out + "\n--- stderr:\n" + r.err;
}

std::string unique_session(const std::string& tag) {
    static std::mt19937_64 rng(std::random_device{}());
    char buf[96];
    snprintf(buf, sizeof buf, "%s_%s_%d_%08llx", driver_name().c_str(), tag.c_str(), int(getpid()),
             static_cast<unsigned long long>(rng() & 0xffffffffull));
    return buf;
}

std::vector<std::string> lines_starting_with(const std::string& text, const std::string& prefix) {
    std::vector<std::string> out;
    std::stringstream ss(text);
    std::string line;
    while (std::getline(ss, line))
        if (line.rfind(prefix, 0) == 0) out.push_back(line);
    return out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string basename_of(const std::string& path) { return fs::path(path).filename().string(); }

uint64_t parse_number_after(const std::string& text, const std::string& label) {
    size_t p = text.find(label);
    if (p == std::string::npos) return UINT64_MAX;
    return std::strtoull(text.c_str() + p + label.size(), nullptr, 10);
}

void note_recordings(const json& report) {
    if (!report.is_object() || !report.contains("processes")) return;
    for (const json& p : report["processes"])
        if (p.contains("recording") && p["recording"].is_string())
            recordings_to_delete().insert(p["recording"].get<std::string>());
}

void remove_recordings(const json& report) {
    if (!report.is_object() || !report.contains("processes")) return;
    std::error_code ec;
    for (const json& p : report["processes"])
        if (p.contains("recording") && p["recording"].is_string()) fs::remove(p["recording"].get<std::string>(), ec);
}

void cleanup_recordings() {
    for (const std::string& p : recordings_to_delete())
        if (p.rfind("/dev/shm/vdsotrace-", 0) == 0) unlink(p.c_str());
    recordings_to_delete().clear();
    const std::set<pid_t> ours(pids().begin(), pids().end());
    const std::string prefix = "vdsotrace-" + std::to_string(getuid()) + "-";
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/dev/shm", ec)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind(prefix, 0) != 0) continue;
        int fd = open(entry.path().c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) continue;
        int32_t ids[2] = {0, 0};
        static_assert(offsetof(format::Header, ppid) == offsetof(format::Header, pid) + 4);
        bool mine = pread(fd, ids, sizeof ids, offsetof(format::Header, pid)) == ssize_t(sizeof ids) &&
                    (ours.count(ids[0]) || ours.count(ids[1]));
        close(fd);
        if (mine) unlink(entry.path().c_str());
    }
}

json parse_json(const std::string& text, const std::string& what) {
    try {
        return json::parse(text);
    } catch (const std::exception& e) {
        ADD_FAILURE() << what << " is not JSON: " << e.what() << "\n" << text;
        return json::object();
    }
}

Traced vdsotrace_run(const std::vector<std::string>& command, const EnvOverrides& env, int timeout_s,
                     const std::vector<std::string>& options) {
    static int counter = 0;
    const std::string json_path = temp_path("report" + std::to_string(++counter) + ".json");
    // The tests read the session in /dev/shm after the run: it is kept (--keep-live), and the
    // recording file goes nowhere unless a test names it (--save, -o).
    std::vector<std::string> argv = {env_path("VDSOTRACE_BIN"), "run", "--keep-live", "--json", json_path};
    if (std::find(options.begin(), options.end(), "--save") == options.end() &&
        std::find(options.begin(), options.end(), "-o") == options.end())
        argv.insert(argv.end(), {"-o", "/dev/null"});
    argv.insert(argv.end(), options.begin(), options.end());
    argv.push_back("--");
    argv.insert(argv.end(), command.begin(), command.end());
    Traced t;
    t.result = run(argv, env, timeout_s);
    std::error_code ec;
    if (fs::exists(json_path, ec)) {
        t.report = parse_json(read_file(json_path), "the JSON report of `vdsotrace run`");
        fs::remove(json_path, ec);
    } else {
        ADD_FAILURE() << "`vdsotrace run` wrote no JSON report\n" << describe(t.result);
        t.report = json::object();
    }
    note_recordings(t.report);
    return t;
}

json report_session(const std::string& session) {
    Result rep = run({env_path("VDSOTRACE_BIN"), "report", "--json", session});
    EXPECT_EQ(rep.code, 0) << describe(rep);
    json j = parse_json(rep.out, "report --json " + session);
    note_recordings(j);
    return j;
}

std::optional<format::Header> header_of_session(const std::string& session) {
    const std::string prefix = "vdsotrace-" + std::to_string(getuid()) + "-" + session + "-";
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/dev/shm", ec)) {
        if (entry.path().filename().string().rfind(prefix, 0) != 0) continue;
        int fd = open(entry.path().c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) continue;
        format::Header h;
        bool ok = pread(fd, &h, sizeof h, 0) == ssize_t(sizeof h);
        close(fd);
        if (ok) return h;
    }
    return std::nullopt;
}

uint64_t u64(const json& j, const char* key) {
    if (!j.is_object() || !j.contains(key) || !j[key].is_number()) return UINT64_MAX;
    return j[key].get<uint64_t>();
}

uint64_t callers_sum(const json& r) {
    uint64_t s = 0;
    if (r.contains("callers"))
        for (const json& c : r["callers"]) s += c["calls"].get<uint64_t>();
    return s;
}

uint64_t unattributed_sum(const json& r) {
    uint64_t s = 0;
    if (r.contains("unattributed"))
        for (const json& u : r["unattributed"]) s += u["calls"].get<uint64_t>();
    return s;
}

}  // namespace vdsotrace::test
