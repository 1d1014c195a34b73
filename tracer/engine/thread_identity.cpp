#include "tracer/engine/thread_identity.h"

#include <pthread.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstring>

#include "tracer/engine/thread_state.h"

namespace vdsotrace::tracer {

namespace {

int g_tid_offset = -1;   // of the kernel tid in glibc's struct pthread; -1: unknown, ask gettid()
int32_t g_pid;           // 0: not known yet
char g_process_name[16];

// The descriptor is much larger (2,304 bytes in glibc 2.36); its tid lies in the first 1 KiB in
// every glibc since 2.3 (720 on x86_64 here).
constexpr int kSearchBytes = 1024;

int find_tid_offset(const unsigned char* self, int32_t tid) {
    int found = -1;
    for (int off = 0; off + 4 <= kSearchBytes; off += 4) {
        int32_t v;
        memcpy(&v, self + off, sizeof v);
        if (v != tid) continue;
        if (found >= 0) return -1;  // two candidates: trust neither
        found = off;
    }
    return found;
}

}  // namespace

void learn_thread_identity() {
    g_pid = int32_t(getpid());
    prctl(PR_GET_NAME, g_process_name);
    g_process_name[15] = '\0';
    const int32_t tid = int32_t(gettid());
    const int off = find_tid_offset(reinterpret_cast<const unsigned char*>(pthread_self()), tid);
    __atomic_store_n(&g_tid_offset, off, __ATOMIC_RELAXED);
}

void thread_identity_after_fork(const ThreadState& t) {
    if (t.name[0] != '\0') copy_thread_name(g_process_name, t.name);  // else the main thread's, as inherited
    g_pid = g_tid_offset >= 0 ? current_tid() : int32_t(getpid());
}

void set_main_thread_name(const char* name) { copy_thread_name(g_process_name, name); }

int32_t tid_of(unsigned long thread) {
    const int off = __atomic_load_n(&g_tid_offset, __ATOMIC_RELAXED);
    if (off < 0 || thread == 0) return 0;
    int32_t tid;
    memcpy(&tid, reinterpret_cast<const unsigned char*>(thread) + off, sizeof tid);
    return tid;
}

int32_t current_tid() {
    const int32_t tid = tid_of(pthread_self());
    return tid > 0 ? tid : int32_t(gettid());
}

int32_t process_id() { return g_pid != 0 ? g_pid : int32_t(getpid()); }

void known_thread_name(const ThreadState& t, char out[16]) {
    copy_thread_name(out, t.name[0] != '\0' ? t.name : g_process_name);
}

void copy_thread_name(char out[16], const char* name) {
    size_t n = 0;
    while (n < 15 && name[n] != '\0') ++n;
    memcpy(out, name, n);
    memset(out + n, 0, 16 - n);
}

}  // namespace vdsotrace::tracer
