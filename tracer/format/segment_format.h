// The recording format: the one contract between the shim/tracer (writer) and tools/ (reader).
//
// One POSIX shared-memory segment per traced process, named
//   /dev/shm/vdsotrace-<uid>-<session>-<pid>-<16 hex random>
// laid out as a fixed 4 KiB header followed by sections the header's section directory locates.
// The writer updates counters in place while the program runs, so a reader sees them live and
// nothing is lost when the program dies. A saved recording is a byte copy of the segment.
//
// Sized to what it holds (major 2): the section directory describes the whole layout
// (`segment_size` bytes, mapped once by the writer), but the file holds only a prefix of it. The
// writer starts it with the header, the small fixed sections and the vDSO image, and extends it on
// its slow paths (a new thread slot, module, wrapper or Python site, exited-thread entry, sampled
// stack) with fallocate, which reserves the pages before anything is written there: a full
// /dev/shm or a file size limit is then a failed growth (kFlagGrowthFailed, one line on stderr),
// never a SIGBUS in the program. Sections are laid out in the order programs fill them (thread
// slots after the small tables), so a short process's file stays a few tens of KiB. Inside the
// file, entries not yet used may be holes (they read as zeros and take no memory).
//
// Compatibility rules:
//  - `major` changes when an existing field moves or changes meaning: readers refuse other majors.
//  - `minor` changes when something is added (a header field in reserved space, a new section
//    kind, a new flag): readers accept any minor of their major and ignore what they don't know.
//  - Every size and offset a reader uses comes from the header and is checked against the file.
//  - The file may be shorter than `segment_size` (it grows while the program runs): an entry that
//    does not lie wholly inside the file has never been written and reads as empty. A reader takes
//    the file's size from the file itself (fstat), never from the header; a file shorter than
//    `backed_size` (what the writer had reserved) was truncated.
// All integers are in the writer's native byte order; `byte_order` tells a reader on another
// machine. Layout is pinned by static_asserts here and by tests/unit/test_segment_format.cpp.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vdsotrace::format {

inline constexpr char kMagic[8] = {'V', 'D', 'S', 'O', 'T', 'R', 'C', '\0'};
// 2.0: the file grows (see above), sections reordered. Everything of 1.4 is kept: 1.1 calls
// through clock wrappers (kSectionWrapperSites); 1.2 Python sites; 1.3 unloaded modules
// (kModuleUnloaded, kSectionRetiredCallers); 1.4 the vDSO's getrandom (kGetrandom).
// 2.1: stacks from the unwind tables (kUnwinderCfi; format 1.5 on the 1.x line).
// 2.2: the reaper's status and the last proven activity (Header::reaped_by,
// Header::last_activity_monotonic_ns; format 1.6 on the 1.x line, at the same offsets).
// Readers of 2.x also read 1.x recordings, whose file is always the whole layout.
inline constexpr uint16_t kMajor = 2;
inline constexpr uint16_t kMinor = 2;
inline constexpr uint16_t kOldestMajorRead = 1;
inline constexpr uint32_t kByteOrderMark = 0x01020304;
inline constexpr char kShmPrefix[] = "vdsotrace-";  // name under /dev/shm
// The largest recording: the shim never creates a bigger one, the reader never reads one.
inline constexpr uint64_t kMaxSegmentSize = uint64_t(1) << 30;

// The counted functions, in counter order. The first kFunctionCount are the clock functions the
// shim interposes and routes (arrays of routes, entries and vDSO names are that long); 1.4
// adds the vDSO's getrandom, counted only where a program calls it through the vDSO (the vDSO's
// own symbol table or libc's internal pointer lead to the shim), never interposed as a symbol.
enum Function : uint8_t {
    kClockGettime = 0,
    kGettimeofday = 1,
    kTime = 2,
    kGetcpu = 3,
    kClockGetres = 4,
    kFunctionCount = 5,
    kGetrandom = 5,          // 1.4
    kCountedFunctions = 6,   // kFunctionNames, report rows
};

// Clock ids are counted per bucket: ids 0..15 by value, then one bucket for the dynamic CPU clocks
// (negative ids made by clock_getcpuclockid / pthread_getcpuclockid) and one for every other id
// (invalid ones, which the kernel answers with EINVAL). Functions without a clock id use bucket 0.
inline constexpr int kClockIdBuckets = 16;
inline constexpr int kBucketDynamicCpu = 16;
inline constexpr int kBucketInvalid = 17;
inline constexpr int kClockBuckets = 18;
// Counter indexes: fn * kClockBuckets + bucket for the clock functions (0..89), then one for
// getrandom (90, 1.4: it takes no clock id).
inline constexpr int kSlotUnattributedCounters = kFunctionCount * kClockBuckets;  // 90: the slot's array
inline constexpr int kCounterSlots = kSlotUnattributedCounters + 1;              // 91

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
    // Stack sampling (present only when sampling is on; see "Sampled stacks" below).
    kSectionStacks = 4,       // StackEntry[count]: the deduplicated stack table, shared by all threads
    kSectionStackFrames = 5,  // uint64_t[count]: the frame pool the stack entries point into
    kSectionSampleSlots = 6,  // one sample slot per thread slot (same index), entry_size bytes each
    kSectionCrash = 9,        // CrashRecord[1]: a fault inside the vDSO or the shim (vDSO doctor)
    kSectionHeadroom = 10,    // HeadroomEntry[count]: callers that ran the clock low on stack
    // Threads that exited give their slot back (kThreadRecycled) after folding their counts here:
    kSectionExitedThreads = 12,  // one thread slot (entry_size as kSectionThreads), updated with atomics
    kSectionThreadLog = 13,      // ExitedThreadEntry[count]: who exited, named, with how many calls
    // Kinds 7-8 (sampling), 11 (vDSO doctor) and 14 (process trees) are set aside.
    // Minor 1: the clock wrappers calls were made through (CallerEntry "via", see below); minor 2:
    // Python call sites and the interpreters found.
    kSectionWrapperSites = 20,   // WrapperSiteEntry[count]
    kSectionPythonSites = 21,    // PythonSiteEntry[count]: Python call sites (CallerEntry address tag)
    kSectionRuntimes = 22,       // RuntimeEntry[count]: interpreters found, and whether they could be read
    // Minor 3: calls counted in a library before it was unloaded (see RetiredCallerEntry).
    kSectionRetiredCallers = 23,  // RetiredCallerEntry[count]
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
    kStateExited = 3,    // exit_value is the exit code (written by the process itself, else by its
                         // reaper: `vdsotrace run` or a parent's wait() under the shim, reaped_by)
    kStateSignaled = 4,  // exit_value is the terminating signal (written by the reaper, as above)
    kStateExeced = 5,    // the image called exec: the new image of the same pid records into the
                         // segment whose ProcessTree::previous_image_id is this one's segment_id
};

enum HeaderFlags : uint32_t {
    kFlagModulesFull = 1u << 0,     // the module table filled up: some callers have no module
    kFlagCmdlineTruncated = 1u << 1,
    kFlagThreadsFull = 1u << 2,     // some threads share the overflow slot (no per-thread split)
    // The vDSO's own symbol table points to the shim, so code that looks the vDSO up itself (Go's
    // runtime) is counted too; such calls are attributed past Go's time plumbing (go_callers.h).
    kFlagVdsoRedirected = 1u << 3,
    // The program looks the vDSO up itself (a Go program), but the vDSO could not be made
    // writable (sealed system mappings): those calls are not counted.
    kFlagVdsoRedirectRefused = 1u << 4,
    // A statically linked program counted by the trampoline `vdsotrace run` injected: without TLS
    // it cannot tell threads apart, so its thread slots are per CPU (named "cpu N"): each call
    // counts, with atomics, in the slot of the CPU it ran on.
    kFlagCpuSlots = 1u << 5,
    // The recording could not grow (/dev/shm full, a file size limit, the file removed): from then
    // on, what needed more room went elsewhere or was not kept (new threads counted with the exited
    // threads, modules and call sites not named); every call is still counted.
    kFlagGrowthFailed = 1u << 6,
};

// Where the shim sends each function (VDSOTRACE_ROUTE, `run --route`).
enum Route : uint8_t {
    kRouteVdso = 0,     // the vDSO entry the shim resolved (the default)
    kRouteSyscall = 1,  // the raw system call
    kRouteLibc = 2,     // libc's own implementation
};

// The vDSO doctor's header fields (the 64-byte block set aside for it). 4-byte aligned at most:
// it sits at offset 3700.
struct DoctorHeader {
    uint8_t routes[8];        // Route per Function (index < kFunctionCount)
    uint8_t from_vdso[8];     // 1 when the vDSO provides the function (else the syscall serves)
    uint32_t crash_handlers;  // 1 when the shim's SIGSEGV/SIGBUS handlers were installed
    uint32_t filled;          // 1 when the shim filled these fields (0 in older recordings)
    uint32_t reserved[10];
};
static_assert(sizeof(DoctorHeader) == 64 && alignof(DoctorHeader) <= 4);

// Where a recording sits in its process tree (Header::tree). Segments of one session are linked
// by the 16 random hex digits that end their names (segment ids): a name is
// vdsotrace-<uid>-<session>-<pid>-<segment id as 16 hex digits>.
enum TreeFlags : uint32_t {
    kTreeForked = 1u << 0,    // created in a forked child (the fork handler ran in this process)
    kTreeExecImage = 1u << 1, // this image replaced, by exec, an image that was recording
};

// 4-byte packing: the block sits at offset 3636 of the header, which is not 8-aligned. Its fields
// are only read and written plainly (never atomically), which unaligned-tolerant targets allow.
#pragma pack(push, 4)
struct ProcessTree {
    uint64_t segment_id;          // this segment's id (the end of its name)
    uint64_t parent_segment_id;   // the segment the forking parent (or, when it recorded nothing,
                                  // the nearest forking ancestor) recorded into; 0: none known
    int32_t parent_pid;           // the pid of that ancestor, when parent_segment_id is set
    uint32_t tree_flags;          // TreeFlags
    uint64_t parent_start_ticks;  // that parent's proc_start_ticks
    uint64_t previous_image_id;   // same pid: the segment of the image this one replaced by exec
    uint64_t exec_monotonic_ns;   // in a replaced image (kStateExeced): when the new image found it
    uint32_t threads_logged;      // ExitedThreadEntry claimed (may exceed the log's capacity)
    uint32_t slots_recycled;      // exited threads whose slot was folded and given back
    uint64_t reserved;
};
#pragma pack(pop)
static_assert(sizeof(ProcessTree) == 64 && alignof(ProcessTree) == 4);

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
    uint64_t segment_size;    // bytes, the whole layout (the file holds a prefix of it: see above)
    SectionEntry sections[kMaxSections];

    // Identity of the process.
    int32_t pid;
    int32_t ppid;
    uint32_t uid;
    uint32_t flags;              // HeaderFlags, set with atomic or
    uint64_t proc_start_ticks;   // field 22 of /proc/PID/stat: tells a reused pid apart; 0: not read
                                 // (short processes): readers compare start_monotonic_ns instead
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
    // Format 2: the bytes of the file the writer has reserved so far (it only grows, raised after
    // each growth succeeded): a file shorter than this was cut, not caught growing. 0 in format 1.
    uint32_t backed_size;
    uint64_t threads_claimed;    // slots handed out (may exceed thread_capacity: the rest share)
    uint64_t modules_claimed;    // module entries handed out (may exceed module_capacity)

    char session[kSessionMax];   // NUL-terminated
    char exe[kExeMax];           // NUL-terminated path of the executable
    uint32_t cmdline_size;       // bytes used in cmdline
    char cmdline[kCmdlineMax];   // arguments, each NUL-terminated, as in /proc/PID/cmdline

    // Zero; later minors add fields here. The three 64-byte blocks below were set aside for
    // process trees, the vDSO doctor and sampling, so their fields could not collide.
    ProcessTree tree;
    DoctorHeader doctor;
    struct Sampling {  // 32-bit fields only: the block starts 4-byte aligned
        uint32_t period;          // one call in `period` per thread has its stack taken; 0 = never
        uint32_t max_depth;       // frames kept per stack (deeper stacks are cut at the root end)
        uint32_t unwinder;        // Unwinder: how stacks are taken
        uint32_t stack_capacity;  // entries in kSectionStacks, a power of two
        uint32_t count_capacity;  // stack-count entries per sample slot, a power of two
        uint32_t ring_capacity;   // ring entries per sample slot
        uint32_t flags;           // SamplingFlags, set with atomic or
        uint32_t frame_capacity;  // entries in kSectionStackFrames
        uint32_t stacks_claimed;  // stack entries handed out (at most stack_capacity)
        uint32_t frames_claimed;  // frame pool entries handed out (at most frame_capacity)
        uint32_t reserved[6];
    } sampling;  // the 64-byte ext_sampling block of v1.0; all zero when sampling is off

    // 2.2 (1.6 on the 1.x line, same offsets). The pid of the traced parent whose wait() wrote state and exit_value because the
    // process could not (killed, or gone without a word); 0: the process itself, or `vdsotrace
    // run`, wrote them (or nobody did).
    int32_t reaped_by;
    // The latest moment the recording proves the process alive (CLOCK_MONOTONIC, 0: none yet):
    // stamped on the shim's slow paths and every 65,536th call of a thread. A process killed
    // without a word ran at least until then. Written with plain stores, only ever forward.
    uint64_t last_activity_monotonic_ns;
    unsigned char reserved[kHeaderSize - 3840];
};
static_assert(sizeof(Header) == kHeaderSize, "header must stay 4 KiB");
static_assert(offsetof(Header, sections) == 32);
static_assert(offsetof(Header, pid) == 416);
static_assert(offsetof(Header, state) == 456);
static_assert(offsetof(Header, thread_capacity) == 480);
static_assert(offsetof(Header, session) == 512);
static_assert(offsetof(Header, exe) == 560);
static_assert(offsetof(Header, cmdline) == 1588);
static_assert(offsetof(Header, tree) == 3636);
static_assert(offsetof(Header, doctor) == 3700);
static_assert(offsetof(Header, sampling) == 3764);
static_assert(sizeof(Header::Sampling) == 64);
static_assert(offsetof(Header, reaped_by) == 3828);
static_assert(offsetof(Header, last_activity_monotonic_ns) == 3832);

// ---- Modules ---------------------------------------------------------------------------------

enum ModuleState : uint32_t { kModuleEmpty = 0, kModuleWriting = 1, kModuleReady = 2 };
enum ModuleFlags : uint32_t {
    kModuleMainProgram = 1u << 0,  // path is the header's exe
    kModuleVdso = 1u << 1,         // the vDSO: its image is in kSectionVdsoImage
    // Minor 3: the module was unloaded (dlclose); its range may hold another module since. Calls
    // counted in it while it was loaded are in kSectionRetiredCallers; caller entries in thread
    // slots belong to the module loaded there now (a reader looks them up among the others).
    kModuleUnloaded = 1u << 2,
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

// kThreadRecycled: the slot's thread exited, its counts went to the kSectionExitedThreads slot and
// its name to the thread log; the slot is zero and free for the next thread (a reader skips it).
enum ThreadState : uint32_t {
    kThreadFree = 0,
    kThreadLive = 1,
    kThreadExited = 2,
    kThreadShared = 3,
    kThreadRecycled = 4,
};

struct ThreadSlotHeader {
    uint32_t state;   // ThreadState
    int32_t tid;
    char name[16];    // the thread's name when it claimed the slot (and when it exited)
    uint64_t claimed_monotonic_ns;
    // 1.4: the unattributed count of getrandom (counter kSlotUnattributedCounters), which has
    // no room in the slot's unattributed array (its length is part of the v1.0 layout).
    uint64_t unattributed_getrandom;
    uint64_t reserved[3];
};
static_assert(sizeof(ThreadSlotHeader) == 64);

// One exited thread whose slot was recycled (kSectionThreadLog). Its calls are in the
// kSectionExitedThreads slot, summed with the other recycled threads'; `calls` is its own total.
struct ExitedThreadEntry {
    uint32_t state;   // 0 = being written, 1 = complete
    int32_t tid;
    uint64_t calls;
    char name[16];
};
static_assert(sizeof(ExitedThreadEntry) == 32);
inline constexpr uint32_t kThreadLogEntries = 4096;

// key: (counter index + 1) << 56 | via << 48 | return address. 0 = empty. Written once, by one
// store. User-space code addresses fit in 48 bits (x86_64 and aarch64 with 4-level tables).
//  via 0: a direct call; `address` is its return address (minor 0 recordings have only these).
//  via 1..kWrapperSiteCapacity: the call came through a clock wrapper (std::chrono's now(),
//      _PyTime_*, uv_hrtime, ...): `address` is the return address of the first call site outside
//      the wrapper chain (0: it could not be found), and WrapperSiteEntry[via - 1] is the call site
//      inside the wrapper that called the clock function.
//  via kViaWrapperMark: not a count. The writer's note that `address` is a call site inside a
//      wrapper (decided once per thread and site); its count stays 0. Readers skip it.
struct CallerEntry {
    uint64_t key;
    uint64_t count;
};
static_assert(sizeof(CallerEntry) == 16);

inline constexpr uint64_t kCallerAddressMask = (uint64_t(1) << 48) - 1;
inline constexpr unsigned kViaWrapperMark = 255;
constexpr uint64_t caller_key(unsigned counter, uint64_t address, unsigned via = 0) {
    return (uint64_t(counter + 1) << 56) | (uint64_t(via & 0xff) << 48) | (address & kCallerAddressMask);
}
constexpr unsigned caller_counter(uint64_t key) { return unsigned(key >> 56) - 1; }
constexpr uint64_t caller_address(uint64_t key) { return key & kCallerAddressMask; }
constexpr unsigned caller_via(uint64_t key) { return unsigned(key >> 48) & 0xff; }

// ---- Unloaded modules (minor 3) ----------------------------------------------------------------
// When a library is unloaded, every caller entry whose return address lies in its range is
// retired: its count moves here, with the module it was counted in, and the entry's key becomes a
// tombstone (kViaWrapperMark with kPythonSiteTag set in the address: never a live key; readers
// skip marks) so the next library loaded at the same address counts into fresh entries. Entries
// are claimed in order and published with state = 2; a retired caller of the same thread, key
// and module is added to its existing entry. When the table is full the counts go to the exited
// threads' slot (else the shared slot) as unattributed calls and kFlagRetiredFull is set.
inline constexpr uint32_t kRetiredCallerCapacity = 1024;
inline constexpr uint32_t kFlagRetiredFull = 1u << 9;  // HeaderFlags bit for the table above
struct RetiredCallerEntry {
    uint32_t state;   // 0: free, 1: being written, 2: ready
    int32_t tid;      // the thread whose slot counted them; 0: the shared or exited-threads slot
    uint32_t module;  // index in kSectionModules of the unloaded module
    uint32_t reserved;
    uint64_t key;     // the caller key (caller_key) the calls were counted under
    uint64_t count;
};
static_assert(sizeof(RetiredCallerEntry) == 32);
constexpr uint64_t retired_tombstone(uint64_t key) {
    return (key & ~(uint64_t(0xff) << 48)) | (uint64_t(kViaWrapperMark) << 48) | (uint64_t(1) << 47);
}

// ---- Clock wrappers (minor 1) ------------------------------------------------------------------
// Call sites inside recognised clock wrappers, process-wide, claimed in order (state 0 -> 1 -> 2).
// A caller entry with via = i + 1 counts calls made through entry i.
inline constexpr uint32_t kWrapperSiteCapacity = 254;
inline constexpr size_t kWrapperNameMax = 112;
enum WrapperSiteState : uint32_t { kWrapperSiteEmpty = 0, kWrapperSiteWriting = 1, kWrapperSiteReady = 2 };
struct WrapperSiteEntry {
    uint32_t state;          // WrapperSiteState
    uint32_t depth;          // wrapper frames stepped out of the first time (1: the wrapper alone)
    uint64_t address;        // return address of the wrapper's call of the clock function
    char name[kWrapperNameMax];  // the wrapper's name as the shim matched it (no parameters), NUL-terminated
};
static_assert(sizeof(WrapperSiteEntry) == 128);

// A call made from Python code (CPython 3.11-3.13) through the interpreter's clock functions is
// counted at the Python call site: its CallerEntry address is kPythonSiteTag | index into
// kSectionPythonSites (bit 47 is never set in a user-space x86_64 address), and its via is the
// interpreter's C call site. Names are copied once per site, so the report needs no process.
inline constexpr uint64_t kPythonSiteTag = uint64_t(1) << 47;
inline constexpr uint32_t kPythonSiteCapacity = 512;
struct PythonSiteEntry {
    uint32_t state;       // kWrapperSiteEmpty / Writing / Ready
    int32_t line;         // of the calling instruction (0: unknown)
    int32_t first_line;   // of the function (code object)
    uint32_t reserved;
    char function[112];   // the code object's qualified name, NUL-terminated
    char file[128];       // co_filename (the end, when longer), NUL-terminated
};
static_assert(sizeof(PythonSiteEntry) == 256);

enum RuntimeState : uint32_t { kRuntimeEmpty = 0, kRuntimeRead = 1, kRuntimeUnreadable = 2 };
inline constexpr uint32_t kRuntimeCapacity = 4;
struct RuntimeEntry {
    uint32_t state;    // RuntimeState
    uint32_t version;  // the runtime's own version number (CPython: Py_Version, 0x030b02f0 = 3.11.2)
    char name[56];     // "CPython 3.11.2 (/usr/bin/python3.11)", NUL-terminated
    char reason[192];  // kRuntimeUnreadable: why its frames are not read (calls count at the C site)
};
static_assert(sizeof(RuntimeEntry) == 256);

constexpr size_t thread_slot_size(uint32_t caller_capacity) {
    return sizeof(ThreadSlotHeader) + kSlotUnattributedCounters * sizeof(uint64_t) +
           size_t(caller_capacity) * sizeof(CallerEntry);
}
inline constexpr size_t kSlotUnattributedOffset = sizeof(ThreadSlotHeader);
inline constexpr size_t kSlotCallersOffset = kSlotUnattributedOffset + kSlotUnattributedCounters * sizeof(uint64_t);
// Where a slot keeps counter `counter`'s unattributed calls (counter < kCounterSlots).
constexpr size_t slot_unattributed_offset(unsigned counter) {
    return counter < unsigned(kSlotUnattributedCounters) ? kSlotUnattributedOffset + counter * sizeof(uint64_t)
                                                         : offsetof(ThreadSlotHeader, unattributed_getrandom);
}

// ---- Sampled stacks --------------------------------------------------------------------------
// With sampling on (VDSOTRACE_SAMPLE=N), one call in N per thread also has its stack taken
// (return addresses, leaf first: frame 0 is the caller of the clock function).
//  - kSectionStacks: an open-addressing table of distinct stacks. A new stack claims an entry
//    with a locked cmpxchg on `hash` (cold: once per distinct stack in the process), takes room in
//    the frame pool with a locked cmpxchg on sampling.frames_claimed, writes its frames, then
//    publishes `state` = kStackReady. A stack's id is its index in this table.
//  - kSectionSampleSlots: per thread (same index as its thread slot; the last one is the shared
//    overflow slot, updated with atomics), exact counts per (function+clock counter, stack id),
//    and a ring of the most recent samples for live readers. Single writer, plain increments,
//    exactly like the thread slots: sampling adds no locked instruction per sampled call.
// Every sampled call lands in exactly one place: a StackCount of its thread, or one of the
// sample slot's explicit `lost_*` counters, so sum(counts) + lost = sampled calls.

enum Unwinder : uint32_t {
    kUnwinderNone = 0,        // sampling off
    kUnwinderLibunwind = 1,   // libunwind's unw_backtrace (loaded with dlopen, RTLD_LOCAL)
    kUnwinderFramePointer = 2,  // frame-pointer walk within the thread's stack
    kUnwinderCfi = 3,         // the modules' unwind tables (.eh_frame), libunwind where they fall short
};

enum SamplingFlags : uint32_t {
    kSamplingStacksFull = 1u << 0,   // the stack table or frame pool filled up
    kSamplingUnwinderMissing = 1u << 1,  // libunwind could not be loaded: nothing sampled
};

enum StackState : uint32_t { kStackEmpty = 0, kStackWriting = 1, kStackReady = 2, kStackDead = 3 };

struct StackEntry {
    uint64_t hash;         // of the frames; never 0 (0 = free)
    uint64_t first_frame;  // index in kSectionStackFrames
    uint32_t depth;        // frames
    uint32_t state;        // StackState; readers use kStackReady entries only
};
static_assert(sizeof(StackEntry) == 24);

struct SampleSlotHeader {
    uint64_t sampled;             // calls whose turn to be sampled came (each lands below)
    uint64_t lost_no_unwinder;    // due before the unwinder was loaded (early constructors) or without one
    uint64_t lost_stacks_full;    // their stack did not fit the stack table or frame pool
    uint64_t lost_counts_full;    // this slot's count table had no room for their stack
    uint64_t lost_reentered;      // arrived while this thread was taking a stack (signal handler)
    uint64_t ring_written;        // samples written to the ring so far (next sequence number)
    uint64_t reserved[2];
};
static_assert(sizeof(SampleSlotHeader) == 64);

// key: (counter + 1) << 32 | stack id. 0 = empty. Written once.
struct StackCount {
    uint64_t key;
    uint64_t count;
};
static_assert(sizeof(StackCount) == 16);
constexpr uint64_t stack_count_key(unsigned counter, uint32_t stack_id) {
    return (uint64_t(counter + 1) << 32) | stack_id;
}
constexpr unsigned stack_count_counter(uint64_t key) { return unsigned(key >> 32) - 1; }
constexpr uint32_t stack_count_stack(uint64_t key) { return uint32_t(key); }

// Ring entry n (n = 0, 1, ...) lives at index n % ring_capacity. The writer stores seq = 2n+1
// (writing), the fields, then seq = 2n+2 (done). A reader that sees the same even seq before and
// after copying the fields has a whole entry; an odd seq is torn, a different n was lapped.
struct RingEntry {
    uint64_t seq;
    // CLOCK_MONOTONIC_COARSE (a few ms resolution): the precise clock would cost ~30 ns a sample.
    // Order within a thread is exact: it is the sequence number.
    uint64_t monotonic_ns;
    uint32_t stack_id;
    uint32_t counter;
    int32_t tid;
    uint32_t reserved;
};
static_assert(sizeof(RingEntry) == 32);

constexpr size_t sample_slot_size(uint32_t count_capacity, uint32_t ring_capacity) {
    return sizeof(SampleSlotHeader) + size_t(count_capacity) * sizeof(StackCount) +
           size_t(ring_capacity) * sizeof(RingEntry);
}
inline constexpr size_t kSampleCountsOffset = sizeof(SampleSlotHeader);
constexpr size_t sample_ring_offset(uint32_t count_capacity) {
    return kSampleCountsOffset + size_t(count_capacity) * sizeof(StackCount);
}

// ---- Crash record (vDSO doctor) --------------------------------------------------------------
// Written once, by the shim's SIGSEGV/SIGBUS handler, when a fault's program counter lies inside
// the vDSO or inside the shim. `state` is stored last (release): a reader sees all or nothing.

enum CrashWhere : uint32_t { kCrashInVdso = 1, kCrashInShim = 2 };
enum CrashFlags : uint32_t {
    kCrashStackKnown = 1u << 0,   // stack_start/stack_end hold the stack's mapping
    kCrashFaultInGuard = 1u << 1, // the fault address is in a PROT_NONE mapping or none at all
};

inline constexpr int kCrashStackWords = 32;
inline constexpr int kCrashReturns = 4;

struct CrashRecord {
    uint32_t state;            // 0: none; 1: written
    int32_t signal;
    int32_t code;              // si_code
    int32_t tid;
    uint32_t where;            // CrashWhere
    uint32_t flags;            // CrashFlags
    uint64_t fault_address;    // si_addr
    uint64_t pc;
    uint64_t sp;               // at the fault
    uint64_t vdso_base;        // runtime address of the vDSO image's first byte
    uint64_t stack_start;      // the mapping holding the stack: the one containing sp, or the
    uint64_t stack_end;        // nearest above it when sp itself ran off the stack
    uint64_t monotonic_ns;
    // Code addresses found on the stack above sp (outside the vDSO), nearest first, and where:
    // the first is the vDSO function's return address, so the caller's sp is its slot + 8.
    uint64_t returns[kCrashReturns];
    uint64_t return_slots[kCrashReturns];
    uint32_t return_count;
    uint32_t stack_word_count; // words copied from sp upward
    uint64_t stack_words[kCrashStackWords];
    uint64_t reserved[13];
};
static_assert(sizeof(CrashRecord) == 512);

// ---- Stack headroom (vDSO doctor) -------------------------------------------------------------
// Calls made with less than kHeadroomWatch bytes between the interposed function's stack pointer
// and the end of the thread's stack are noted per caller: the lowest headroom seen and how many
// such calls. Entries are claimed with a locked cmpxchg and updated with atomics (a rare path:
// only calls this close to the end of the stack get here). Full table: kFlagHeadroomFull.

inline constexpr uint64_t kHeadroomWatch = 16 * 1024;
inline constexpr uint32_t kHeadroomEntries = 64;
inline constexpr uint32_t kFlagHeadroomFull = 1u << 8;  // HeaderFlags bit for the table above

struct HeadroomEntry {
    uint64_t key;           // caller_key(counter, return address); 0 = empty
    uint64_t min_headroom;  // 1 + the lowest headroom seen, in bytes (0: none yet)
    uint64_t calls;         // calls seen below kHeadroomWatch
    uint64_t reserved;
};
static_assert(sizeof(HeadroomEntry) == 32);

// ---- Names shared by the shim's messages and the reader's report ---------------------------

inline constexpr const char* kFunctionNames[kCountedFunctions] = {
    "clock_gettime", "gettimeofday", "time", "getcpu", "clock_getres", "getrandom"};

// Names of clock ids 0..15 (Linux uapi/linux/time.h), "" for ids Linux does not define.
inline constexpr const char* kClockNames[kClockIdBuckets] = {
    "CLOCK_REALTIME", "CLOCK_MONOTONIC", "CLOCK_PROCESS_CPUTIME_ID", "CLOCK_THREAD_CPUTIME_ID",
    "CLOCK_MONOTONIC_RAW", "CLOCK_REALTIME_COARSE", "CLOCK_MONOTONIC_COARSE", "CLOCK_BOOTTIME",
    "CLOCK_REALTIME_ALARM", "CLOCK_BOOTTIME_ALARM", "CLOCK_SGI_CYCLE", "CLOCK_TAI", "", "", "",
    ""};
}  // namespace vdsotrace::format
