// Links a new segment into its process tree: to the segment of the process that forked it, and to
// the segment of the image it replaced by exec (same pid), which it marks as exec'd. Also the
// "do not follow exec" setting. Everything here runs on slow paths (segment creation, fork, the
// constructor) and uses only async-signal-safe system calls: no allocation, no stdio.
#pragma once

#include <cstdint>

#include "tracer/common/text_util.h"
#include "tracer/format/segment_format.h"

namespace vdsotrace::tracer {

// In a forked child, before the parent's mapping is dropped: remember which segment the parent
// recorded into (null `parent`: it recorded nothing yet; then the link it inherited from its own
// fork, if any, is kept: the child links to its nearest forking ancestor that recorded).
void remember_fork_parent(const format::Header* parent);

// The segment id of image `generation` (0: the first; one more for each exec that recorded) of the
// process `pid` in `session`: derived, not random, so that an exec'd image finds the segment of the
// image it replaced by its exact name, and the parent that reaped a process finds its recordings
// (child_status.cpp) without reading /dev/shm. Not from the process's start time, which a reaped
// child's parent cannot learn any more: a process that had the pid before in the session took the
// first generations, told apart by the pid and start time in their headers.
uint64_t image_segment_id(uint32_t uid, const char* session, int pid, uint32_t generation);

// Most images one process (pid) may leave in a session; past them its ids are random.
inline constexpr uint32_t kMaxImageGenerations = 256;

// Creates the file of this process's new segment in /dev/shm (shm_open with O_CREAT | O_EXCL |
// O_NOFOLLOW: never one somebody else prepared; 0600: only our user), named "/" + the segment's
// name, into `name`. Under the first generation's name that has no file: the exclusive creation
// is the probe (an access() of each name before cost a path lookup a process). The generation
// before it, if any, may be the image this one replaced: remembered for link_into_tree, which
// checks. Past kMaxImageGenerations, `random_id()`'s. Returns the descriptor and sets *id, or -1
// with errno.
int create_segment_file(uint32_t uid, const char* session, int pid, uint64_t (*random_id)(), uint64_t* id,
                        char* name, size_t name_size);

// "vdsotrace-<uid>-<session>-<pid>-<16 hex digits of id>", a segment's name in /dev/shm.
void add_segment_name(TextBuffer* b, uint32_t uid, const char* session, int pid, uint64_t id);

// Fills `h->tree` of a segment just created: the fork parent remembered above, and the segment of
// the image this process replaced by exec (create_segment_file found it). That segment is marked
// kStateExeced so it no longer looks running (nor vanished).
void link_into_tree(format::Header* h);

// With VDSOTRACE_FOLLOW_EXEC=0 in the environment, removes libvdsotrace.so from LD_PRELOAD in
// place (no allocation) so programs this process execs are not traced; forked children still are.
void apply_follow_exec_setting();

}  // namespace vdsotrace::tracer
