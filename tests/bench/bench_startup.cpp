// Start-up cost of the shim: spawns PROGRAM N times without a preload, with LD_PRELOAD=EMPTY (a
// library with no code: what loading any library costs here) and with LD_PRELOAD=SHIM, in turn
// so all three see the same machine load, and prints the three medians in microseconds.
//   bench_startup SHIM EMPTY PROGRAM N
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

extern char** environ;

namespace {

double spawn_once(const char* program, char** envp) {
    timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    pid_t pid;
    char* argv[] = {const_cast<char*>(program), nullptr};
    if (posix_spawn(&pid, program, nullptr, nullptr, argv, envp) != 0) {
        perror("posix_spawn");
        exit(1);
    }
    int status;
    waitpid(pid, &status, 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    return double(b.tv_sec - a.tv_sec) * 1e6 + double(b.tv_nsec - a.tv_nsec) / 1e3;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: bench_startup SHIM EMPTY PROGRAM N\n");
        return 2;
    }
    std::vector<std::string> plain_env;
    for (char** e = environ; *e; ++e)
        if (std::string(*e).rfind("LD_PRELOAD=", 0) != 0) plain_env.push_back(*e);
    std::vector<std::string> preload_env = plain_env, empty_env = plain_env;
    preload_env.push_back(std::string("LD_PRELOAD=") + argv[1]);
    empty_env.push_back(std::string("LD_PRELOAD=") + argv[2]);
    auto to_envp = [](std::vector<std::string>& v) {
        std::vector<char*> p;
        for (auto& s : v) p.push_back(s.data());
        p.push_back(nullptr);
        return p;
    };
    auto plain = to_envp(plain_env), preload = to_envp(preload_env), empty = to_envp(empty_env);
    const char* program = argv[3];
    const int n = atoi(argv[4]);
    std::vector<double> without, with_empty, with_shim;
    for (int i = 0; i < n; ++i) {
        without.push_back(spawn_once(program, plain.data()));
        with_empty.push_back(spawn_once(program, empty.data()));
        with_shim.push_back(spawn_once(program, preload.data()));
    }
    printf("%.1f %.1f %.1f\n", median(without), median(with_empty), median(with_shim));
    return 0;
}
