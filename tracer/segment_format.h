// The recording format: the one contract between the shim/tracer (writer) and tools/ (reader).
//
// One POSIX shared-memory segment per traced process, named
//   /dev/shm/vdsotrace-<uid>-<session>-<pid>-<16 hex random>
// laid out as a fixed 4 KiB header followed by sections the header's section directory locates.
// The writer updates counters in place while the program runs, so a reader sees them live and
// nothing is lost when the program dies. A saved recording is a byte copy of the segment.
//
// Compatibility rules:
//  - `major` changes when an existing field moves or changes meaning: readers refuse other majors.
//  - `minor` changes when something is added (a header field in reserved space, a new section
//    kind, a new flag): readers accept any minor of their major and ignore what they don't know.
//  - Every size and offset a reader uses comes from the header and is checked against the file.
// All integers are in the writer's native byte order; `byte_order` tells a reader on another
// machine. Layout is pinned by static_asserts here and by tests/unit/test_segment_format.cpp.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vdsotrace::format {

inline constexpr char kMagic[8] = {'V', 'D', 'S', 'O', 'T', 'R', 'C', '\0'};
inline constexpr uint16_t kMajor = 1;
inline constexpr uint16_t kMinor = 0;
inline constexpr uint32_t kByteOrderMark = 0x01020304;
inline constexpr char kShmPrefix[] = "vdsotrace-";  // name under /dev/shm
// The largest recording: the shim never creates a bigger one, the reader never reads one.
inline constexpr uint64_t kMaxSegmentSize = uint64_t(1) << 30;

// The interposed functions, in counter order.
enum Function : uint8_t {
    kClockGettime = 0,
    kGettimeofday = 1,
    kTime = 2,
    kGetcpu = 3,
    kClockGetres = 4,
    kFunctionCount = 5,
};

// Clock ids are counted per bucket: ids 0..15 by value, then one bucket for the dynamic CPU clocks
// (negative ids made by clock_getcpuclockid / pthread_getcpuclockid) and one for every other id
// (invalid ones, which the kernel answers with EINVAL). Functions without a clock id use bucket 0.
inline constexpr int kClockIdBuckets = 16;
inline constexpr int kBucketDynamicCpu = 16;
inline constexpr int kBucketInvalid = 17;
inline constexpr int kClockBuckets = 18;
inline constexpr int kCounterSlots = kFunctionCount * kClockBuckets;  // 90

constexpr bool function_takes_clock(int fn) { return fn == kClockGettime || fn == kClockGetres; }
constexpr int clock_bucket(long clock_id) {
    return (clock_id >= 0 && clock_id < kClockIdBuckets) ? int(clock_id)
           : clock_id < 0                                ? kBucketDynamicCpu
                                                         : kBucketInvalid;
}
constexpr unsigned counter_index(int fn, int bucket) { return unsigned(fn * kClockBuckets + bucket); }
constexpr int counter_function(unsigned index) { return int(index / kClockBuckets); }
constexpr int counter_bucket(unsigned index) { return int(index % kClockBuckets); }

// ---- Section directory ----------------------------------------------------------------------

enum SectionKind : uint32_t {
    kSectionModules = 1,    // ModuleEntry[count]
    kSectionThreads = 2,    // count thread slots of entry_size bytes; the last one is shared
    kSectionVdsoImage = 3,  // the vDSO's ELF image, count bytes (entry_size 1), for symbolization
    // Kinds 4-8 are set aside for stack sampling, 9-11 for the vDSO doctor (crash records),
    // 12-14 for process trees.
};

struct SectionEntry {
    uint32_t kind;        // SectionKind; 0 = unused
    uint32_t entry_size;  // bytes per entry
    uint64_t offset;      // from the start of the segment
    uint64_t count;       // entries
};
static_assert(sizeof(SectionEntry) == 24);

inline constexpr int kMaxSections = 16;

// ---- Header ----------------------------------------------------------------------------------

enum ProcessState : uint32_t {
    kStateRunning = 1,   // recording; if the pid is gone, the process died without a word (killed)
    kStateEnded = 2,     // the shim's destructor ran (normal exit); status unknown unless set below
    kStateExited = 3,    // exit_value is the exit code (written by `vdsotrace run` from wait())
    kStateSignaled = 4,  // exit_value is the terminating signal (written by `vdsotrace run`)
};

enum HeaderFlags : uint32_t {
    kFlagModulesFull = 1u << 0,     // the module table filled up: some callers have no module
    kFlagCmdlineTruncated = 1u << 1,
    kFlagThreadsFull = 1u << 2,     // some threads share the overflow slot (no per-thread split)
};

inline constexpr size_t kHeaderSize = 4096;
inline constexpr size_t kSessionMax = 48;
inline constexpr size_t kExeMax = 1024;
inline constexpr size_t kCmdlineMax = 2048;

struct Header {
    char magic[8];
    uint16_t major;
    uint16_t minor;
    uint32_t header_size;     // kHeaderSize
    uint32_t byte_order;      // kByteOrderMark as written
    uint32_t section_count;   // used entries in sections[]
    uint64_t segment_size;    // bytes, the whole segment
    SectionEntry sections[kMaxSections];

    // Identity of the process.
    int32_t pid;
    int32_t ppid;
    uint32_t uid;
    uint32_t flags;              // HeaderFlags, set with atomic or
    uint64_t proc_start_ticks;   // field 22 of /proc/PID/stat: tells a reused pid apart
    uint64_t start_realtime_ns;  // when the segment was created
    uint64_t start_monotonic_ns;

    // Life cycle, written by the shim (running, ended) and by `vdsotrace run` (exit status).
    uint32_t state;              // ProcessState
    int32_t exit_value;          // exit code or signal number, per state
    uint64_t end_monotonic_ns;   // 0 while running
    uint64_t end_realtime_ns;

    // Capacities and fill levels.
    uint32_t thread_capacity;    // private thread slots (the shared overflow slot comes after them)
    uint32_t caller_capacity;    // caller entries per thread slot, a power of two
    uint32_t module_capacity;
    uint32_t reserved0;
    uint64_t threads_claimed;    // slots handed out (may exceed thread_capacity: the rest share)
    uint64_t modules_claimed;    // module entries handed out (may exceed module_capacity)

    char session[kSessionMax];   // NUL-terminated
    char exe[kExeMax];           // NUL-terminated path of the executable
    uint32_t cmdline_size;       // bytes used in cmdline
    char cmdline[kCmdlineMax];   // arguments, each NUL-terminated, as in /proc/PID/cmdline

    // Zero; later minors add fields here. Three 64-byte blocks are set aside for the features
    // being built next, so their fields do not collide: each becomes named fields of exactly
    // 64 bytes when its feature lands.
    unsigned char ext_process_tree[64];
    unsigned char ext_doctor[64];
    unsigned char ext_sampling[64];
    unsigned char reserved[kHeaderSize - 3636 - 3 * 64];
};
static_assert(sizeof(Header) == kHeaderSize, "header must stay 4 KiB");
static_assert(offsetof(Header, sections) == 32);
static_assert(offsetof(Header, pid) == 416);
static_assert(offsetof(Header, state) == 456);
static_assert(offsetof(Header, thread_capacity) == 480);
static_assert(offsetof(Header, session) == 512);
static_assert(offsetof(Header, exe) == 560);
static_assert(offsetof(Header, cmdline) == 1588);
static_assert(offsetof(Header, ext_process_tree) == 3636);
static_assert(offsetof(Header, ext_doctor) == 3700);
static_assert(offsetof(Header, ext_sampling) == 3764);

// ---- Modules ---------------------------------------------------------------------------------

enum ModuleState : uint32_t { kModuleEmpty = 0, kModuleWriting = 1, kModuleReady = 2 };
enum ModuleFlags : uint32_t {
    kModuleMainProgram = 1u << 0,  // path is the header's exe
    kModuleVdso = 1u << 1,         // the vDSO: its image is in kSectionVdsoImage
};

inline constexpr size_t kModulePathMax = 440;
inline constexpr size_t kBuildIdMax = 32;

struct ModuleEntry {
    uint32_t state;             // ModuleState; readers skip entries that are not ready
    uint32_t flags;             // ModuleFlags
    uint64_t load_bias;         // runtime address - ELF virtual address
    uint64_t start;             // runtime address range covered by its loaded segments
    uint64_t end;
    uint32_t build_id_size;     // bytes used in build_id
    uint32_t reserved;
    unsigned char build_id[kBuildIdMax];
    char path[kModulePathMax];  // NUL-terminated
};
static_assert(sizeof(ModuleEntry) == 512);

// ---- Threads ---------------------------------------------------------------------------------
// A thread slot is written by one thread only (and by signal handlers running on it), with
// plain, non-locked instructions; the last slot is shared by every thread that found the table
// full and is updated with atomic instructions. Layout of one slot:
//   ThreadSlotHeader | uint64_t unattributed[kCounterSlots] | CallerEntry callers[caller_capacity]
// Every call lands in exactly one place: the CallerEntry of its (counter, return address), or,
// when the caller table has no room, unattributed[counter]. A thread's count for a counter is
// therefore the sum of the two; there is no separate total to keep in step (one memory
// increment per call instead of two).

enum ThreadState : uint32_t { kThreadFree = 0, kThreadLive = 1, kThreadExited = 2, kThreadShared = 3 };

struct ThreadSlotHeader {
    uint32_t state;   // ThreadState
    int32_t tid;
    char name[16];    // the thread's name when it claimed the slot (and when it exited)
    uint64_t claimed_monotonic_ns;
    uint64_t reserved[4];
};
static_assert(sizeof(ThreadSlotHeader) == 64);

// key: (counter index + 1) << 56 | return address. 0 = empty. Written once, by one store.
struct CallerEntry {
    uint64_t key;
    uint64_t count;
};
static_assert(sizeof(CallerEntry) == 16);

inline constexpr uint64_t kCallerAddressMask = (uint64_t(1) << 56) - 1;
constexpr uint64_t caller_key(unsigned counter, uint64_t address) {
    return (uint64_t(counter + 1) << 56) | (address & kCallerAddressMask);
}
constexpr unsigned caller_counter(uint64_t key) { return unsigned(key >> 56) - 1; }
constexpr uint64_t caller_address(uint64_t key) { return key & kCallerAddressMask; }

constexpr size_t thread_slot_size(uint32_t caller_capacity) {
    return sizeof(ThreadSlotHeader) + kCounterSlots * sizeof(uint64_t) +
           size_t(caller_capacity) * sizeof(CallerEntry);
}
inline constexpr size_t kSlotUnattributedOffset = sizeof(ThreadSlotHeader);
inline constexpr size_t kSlotCallersOffset = kSlotUnattributedOffset + kCounterSlots * sizeof(uint64_t);

// ---- Names shared by the shim's messages and the reader's report ---------------------------

inline constexpr const char* kFunctionNames[kFunctionCount] = {
    "clock_gettime", "gettimeofday", "time", "getcpu", "clock_getres"};

// Names of clock ids 0..15 (Linux uapi/linux/time.h), "" for ids Linux does not define.
inline constexpr const char* kClockNames[kClockIdBuckets] = {
    "CLOCK_REALTIME", "CLOCK_MONOTONIC", "CLOCK_PROCESS_CPUTIME_ID", "CLOCK_THREAD_CPUTIME_ID",
    "CLOCK_MONOTONIC_RAW", "CLOCK_REALTIME_COARSE", "CLOCK_MONOTONIC_COARSE", "CLOCK_BOOTTIME",
    "CLOCK_REALTIME_ALARM", "CLOCK_BOOTTIME_ALARM", "CLOCK_SGI_CYCLE", "CLOCK_TAI", "", "", "",
    ""};
}  // namespace vdsotrace::format
