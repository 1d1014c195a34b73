// Links a new segment into its process tree: to the segment of the process that forked it, and to
// the segment of the image it replaced by exec (same pid), which it marks as exec'd. Also the
// "do not follow exec" setting. Everything here runs on slow paths (segment creation, fork, the
// constructor) and uses only async-signal-safe system calls: no allocation, no stdio.
#pragma once

#include <cstdint>

#include "tracer/format/segment_format.h"

namespace vdsotrace::tracer {

// In a forked child, before the parent's mapping is dropped: remember which segment the parent
// recorded into (null `parent`: it recorded nothing yet; then the link it inherited from its own
// fork, if any, is kept: the child links to its nearest forking ancestor that recorded).
void remember_fork_parent(const format::Header* parent);

// Fills `h->tree` of a segment just created: the fork parent remembered above, and the segment of
// the image this process replaced by exec, found in /dev/shm by session, pid and start time.
// That segment is marked kStateExeced so it no longer looks running (nor vanished).
void link_into_tree(format::Header* h);

// With VDSOTRACE_FOLLOW_EXEC=0 in the environment, removes libvdsotrace.so from LD_PRELOAD in
// place (no allocation) so programs this process execs are not traced; forked children still are.
void apply_follow_exec_setting();

}  // namespace vdsotrace::tracer
