// libFuzzer target: bytes through the two parsers of the reader, the segment parser
// (parse_recording) and the saved-recording (archive) parser. Whatever the bytes, they must be
// refused with a message or accepted: never a crash, an out-of-bounds read or a hang. Built with
// ASan+UBSan and run by .ci/fuzz; its seeds are in corpus/, and every input it ever broke on goes to
// regressions/, which test_fuzz_regressions replays in the normal test suite through everything
// `vdsotrace report PATH` does (report model, elfutils on the recorded vDSO image, both outputs).
// The fuzzer itself stays on the parsers: the report model now measures the machine's clocks
// (forks with seccomp) when a recording's vDSO image is this machine's, which no fuzz loop should.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_one_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    vdsotrace::fuzz::parse_like_reader(std::vector<unsigned char>(data, data + size));
    return 0;
}
