// What `report` asks of the machine it runs on before building the model: whether the recorded
// processes still run, their threads' current names, this machine's vDSO, its clocks and their
// stack need. The model (tools/report/) probes nothing itself; the command gathers these here.
#pragma once

#include <vector>

#include "tools/recordings/segment_reader.h"
#include "tools/report/machine_facts.h"

namespace vdsotrace::tools {

// Gathers what a report of `recordings` needs, and only that (measuring clocks and stack need
// takes time: done only when the recordings call for it).
MachineFacts gather_machine_facts(const std::vector<Recording>& recordings);

}  // namespace vdsotrace::tools
