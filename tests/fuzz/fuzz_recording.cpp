// libFuzzer target: a recording's bytes through everything the reader does with a file it is
// given (`vdsotrace report PATH`): parse_recording, then, when it is accepted, the report model
// (which hands the recorded vDSO image to elfutils and looks up module paths) and both outputs.
// Whatever the bytes, the reader must refuse them with a message or report them: never crash,
// never read out of bounds, never hang. Built and run by .ci/fuzz; its seeds are in corpus/, and
// every input it ever broke on goes to regressions/, which test_fuzz_regressions replays in the
// normal test suite.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz_one_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    vdsotrace::fuzz::read_like_report(std::vector<unsigned char>(data, data + size));
    return 0;
}
