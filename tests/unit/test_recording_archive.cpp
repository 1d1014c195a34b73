// Saved sessions (`run --save`): an archive of segment images is read back exactly, and a
// damaged one (every truncation, wrong magic or version, impossible sizes, a corrupt recording
// inside, random bytes) is refused with a message, never a crash.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "tools/recordings/jit_symbols.h"
#include "tools/symbols/perf_map.h"
#include "tools/recordings/recording_archive.h"
#include "tools/recordings/recording_file.h"
#include "tools/recordings/recording_stream.h"
#include "tools/symbols/symbol_table.h"
#include "tests/unit/blank_recording.h"
#include "tracer/format/segment_format.h"

namespace f = vdsotrace::format;
namespace tools = vdsotrace::tools;

namespace {

// A valid one-thread recording of `pid` with `calls` CLOCK_MONOTONIC calls.
std::vector<unsigned char> image(int pid, uint64_t calls) {
    vdsotrace::testing::TestRecording rec;
    f::Header* h = rec.header();
    h->pid = pid;
    h->state = f::kStateExited;
    h->tree.segment_id = 0x1000 + uint64_t(pid);
    strcpy(h->session, "saved");
    h->threads_claimed = 1;
    rec.thread(0)->state = f::kThreadExited;
    rec.unattributed(0)[f::counter_index(f::kClockGettime, 1)] = calls;
    return std::move(rec.bytes);
}

std::string temp(const std::string& what) {
    return (std::filesystem::temp_directory_path() / ("vdsotrace_archive_" + std::to_string(getpid()) + what)).string();
}

void write_file(const std::string& path, const std::vector<unsigned char>& b) {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

std::vector<unsigned char> read_file(const std::string& path) {
    std::vector<unsigned char> b;
    std::string error;
    EXPECT_TRUE(tools::read_recording_file(path, &b, &error)) << error;
    return b;
}

// An archive of two recordings (pids 11 and 12, 5 and 6 calls), as bytes.
std::vector<unsigned char> valid_archive() {
    const std::string a = temp("a"), b = temp("b");
    write_file(a, image(11, 5));
    write_file(b, image(12, 6));
    std::string error;
    auto bytes = tools::archive_bytes({a, b}, {}, &error);
    EXPECT_TRUE(bytes.has_value()) << error;
    std::filesystem::remove(a);
    std::filesystem::remove(b);
    return bytes.value_or(std::vector<unsigned char>{});
}

std::string refusal(const std::vector<unsigned char>& bytes) {
    std::string error;
    auto r = tools::parse_archive(bytes, "test", &error);
    EXPECT_FALSE(r.has_value());
    EXPECT_FALSE(error.empty());
    return error;
}

}  // namespace

TEST(RecordingArchive, ReadsBackEveryRecordingExactly) {
    std::string error;
    auto r = tools::parse_archive(valid_archive(), "test", &error);
    ASSERT_TRUE(r.has_value()) << error;
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ((*r)[0].pid, 11);
    EXPECT_EQ((*r)[1].pid, 12);
    EXPECT_EQ((*r)[0].segment_id, 0x1000u + 11);
    EXPECT_EQ((*r)[0].totals()[f::counter_index(f::kClockGettime, 1)], 5u);
    EXPECT_EQ((*r)[1].totals()[f::counter_index(f::kClockGettime, 1)], 6u);
    EXPECT_NE((*r)[0].source.find("vdsotrace_archive_"), std::string::npos);
}

TEST(RecordingArchive, LoadRecordingsReadsASegmentAndAnArchiveAlike) {
    const std::string seg = temp("seg"), arc = temp("arc");
    write_file(seg, image(7, 1));
    write_file(arc, valid_archive());
    std::string error;
    auto one = tools::load_recordings(seg, &error);
    ASSERT_TRUE(one.has_value()) << error;
    EXPECT_EQ(one->size(), 1u);
    auto two = tools::load_recordings(arc, &error);
    ASSERT_TRUE(two.has_value()) << error;
    EXPECT_EQ(two->size(), 2u);
    std::filesystem::remove(seg);
    std::filesystem::remove(arc);
}

// Pages of zeros (entries never used) are left out of an archive's entry and put back on reading.
TEST(RecordingArchive, LeavesOutZeroPagesAndPutsThemBack) {
    // Three whole pages and a 100-byte tail: the first and third pages and the tail hold data.
    std::vector<unsigned char> bytes(3 * 4096 + 100, 0);
    bytes[5] = 1;
    bytes[2 * 4096 + 4095] = 2;
    bytes[3 * 4096 + 99] = 3;
    const tools::SegmentImage packed = tools::pack_segment_image("/dev/shm/x", bytes);
    EXPECT_EQ(packed.size, bytes.size());
    ASSERT_EQ(packed.packed.size(), 1u + 4096 + 4096 + 100);  // bitmap, pages 0 and 2, the tail
    EXPECT_EQ(packed.packed[0], 0b1101);
    std::vector<unsigned char> back;
    ASSERT_TRUE(tools::unpack_segment_image(packed.packed.data(), packed.packed.size(), packed.size, &back));
    EXPECT_EQ(back, bytes);
    // A bitmap that claims more pages than follow it is refused.
    EXPECT_FALSE(tools::unpack_segment_image(packed.packed.data(), packed.packed.size() - 1, packed.size, &back));

    // A real recording: what is kept is its pages with data, no more.
    const std::vector<unsigned char> rec = image(11, 5);
    size_t data_bytes = 0;
    for (size_t at = 0; at < rec.size(); at += 4096) {
        const size_t n = std::min<size_t>(4096, rec.size() - at);
        if (std::any_of(rec.begin() + long(at), rec.begin() + long(at + n), [](unsigned char c) { return c != 0; }))
            data_bytes += n;
    }
    const tools::SegmentImage r = tools::pack_segment_image("/dev/shm/y", rec);
    EXPECT_EQ(r.packed.size(), (rec.size() + 4095) / 4096 / 8 + ((rec.size() + 4095) / 4096 % 8 != 0) + data_bytes);
    EXPECT_LT(data_bytes, rec.size());
}

// Archives written before zero pages were left out (major 1) are still read.
TEST(RecordingArchive, ReadsAnArchiveOfTheFirstMajor) {
    const std::vector<unsigned char> rec = image(7, 3);
    const std::string name = "vdsotrace-0-saved-7-0000000000000007";
    std::vector<unsigned char> b(24, 0);
    memcpy(b.data(), tools::kArchiveMagic, 8);
    const uint16_t major = 1, minor = 2;
    const uint32_t count = 1;
    memcpy(b.data() + 8, &major, 2);
    memcpy(b.data() + 10, &minor, 2);
    memcpy(b.data() + 12, &f::kByteOrderMark, 4);
    memcpy(b.data() + 16, &count, 4);
    const uint32_t name_size = uint32_t(name.size()), flags = 0;
    const uint64_t size = rec.size();
    b.insert(b.end(), reinterpret_cast<const unsigned char*>(&name_size), reinterpret_cast<const unsigned char*>(&name_size) + 4);
    b.insert(b.end(), reinterpret_cast<const unsigned char*>(&flags), reinterpret_cast<const unsigned char*>(&flags) + 4);
    b.insert(b.end(), reinterpret_cast<const unsigned char*>(&size), reinterpret_cast<const unsigned char*>(&size) + 8);
    b.insert(b.end(), name.begin(), name.end());
    b.insert(b.end(), rec.begin(), rec.end());
    std::string error;
    auto r = tools::parse_archive(b, "old", &error);
    ASSERT_TRUE(r.has_value()) << error;
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ((*r)[0].pid, 7);
    EXPECT_EQ((*r)[0].totals()[f::counter_index(f::kClockGettime, 1)], 3u);
}

TEST(RecordingArchive, RefusesEveryTruncation) {
    const std::vector<unsigned char> good = valid_archive();
    for (size_t n = 0; n < good.size(); n += (n < 256 ? 1 : 97)) {
        std::vector<unsigned char> cut(good.begin(), good.begin() + long(n));
        refusal(cut);
    }
}

TEST(RecordingArchive, RefusesWrongMagicVersionOrderAndSizes) {
    std::vector<unsigned char> b = valid_archive();
    b[0] = 'X';
    EXPECT_NE(refusal(b).find("not a vdsotrace archive"), std::string::npos);

    b = valid_archive();
    b[8] = 9;  // major
    EXPECT_NE(refusal(b).find("archive version 9."), std::string::npos);

    b = valid_archive();
    std::swap(b[12], b[15]);  // byte order mark
    EXPECT_NE(refusal(b).find("byte order"), std::string::npos);

    b = valid_archive();
    const uint32_t huge = 0xffffffffu;
    memcpy(b.data() + 16, &huge, 4);  // count
    b[10] = 2;                        // minor 2: a count to the end is not in its format
    EXPECT_NE(refusal(b).find("lists 4294967295 recordings: corrupt"), std::string::npos);

    b = valid_archive();
    const uint32_t zero = 0;
    memcpy(b.data() + 16, &zero, 4);
    refusal(b);

    b = valid_archive();
    const uint64_t big = uint64_t(1) << 62;
    memcpy(b.data() + 24 + 8, &big, 8);  // first entry's image size
    EXPECT_NE(refusal(b).find("runs past the end"), std::string::npos);

    b = valid_archive();
    b.push_back(0);
    EXPECT_NE(refusal(b).find("follow the last recording"), std::string::npos);
}

TEST(RecordingArchive, RefusesACorruptRecordingInside) {
    std::vector<unsigned char> b = valid_archive();
    uint32_t name_size = 0;
    memcpy(&name_size, b.data() + 24, 4);
    // The first recording's magic, after its entry's page bitmap (its first page is kept).
    uint64_t image_size = 0;
    memcpy(&image_size, b.data() + 24 + 8, 8);
    const size_t bitmap = size_t((image_size + 4095) / 4096 + 7) / 8;
    ASSERT_EQ(b[24 + 16 + name_size] & 1, 1);
    b[24 + 16 + name_size + bitmap] = 'Z';
    EXPECT_NE(refusal(b).find("wrong magic"), std::string::npos);
}

TEST(RecordingArchive, SurvivesRandomCorruption) {
    const std::vector<unsigned char> good = valid_archive();
    std::mt19937_64 rng(42);
    for (int i = 0; i < 2000; ++i) {
        std::vector<unsigned char> b = good;
        const int flips = 1 + int(rng() % 8);
        for (int k = 0; k < flips; ++k) b[rng() % 64 < 48 ? rng() % 64 : rng() % b.size()] = uint8_t(rng());
        std::string error;
        auto r = tools::parse_archive(b, "fuzz", &error);
        if (!r) {
            EXPECT_FALSE(error.empty());
        }
    }
}

TEST(RecordingArchive, CarriesEachRecordingsKeptPerfMap) {
    // b has a perf map kept beside it, a has none: the archive gives b, and only b, its names.
    const std::string a = temp("pa"), b = temp("pb"), out = temp("pout");
    write_file(a, image(21, 1));
    write_file(b, image(22, 2));
    const std::string map = "7f0000001000 40 JS:*hot /srv/app.js:3:14\n";
    write_file(tools::kept_perf_map_path(b), std::vector<unsigned char>(map.begin(), map.end()));
    std::string error;
    ASSERT_TRUE(tools::write_recording_file({a, b}, nullptr, out, &error)) << error;
    std::filesystem::remove(tools::kept_perf_map_path(b));
    auto r = tools::load_recordings(out, &error);
    ASSERT_TRUE(r.has_value()) << error;
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ((*r)[0].perf_map, nullptr);
    ASSERT_NE((*r)[1].perf_map, nullptr);
    uint64_t offset = 0;
    const std::string* name = tools::jit_symbol((*r)[1], 0x7f0000001010, &offset);
    ASSERT_NE(name, nullptr);
    EXPECT_EQ(*name, "JS:*hot /srv/app.js:3:14");
    EXPECT_EQ(offset, 0x10u);
    EXPECT_EQ(tools::jit_symbol((*r)[1], 0x7f0000001040, &offset), nullptr);
    for (const std::string& p : {a, b, out}) std::filesystem::remove(p);
}

// The recording file `run` writes: the archive compressed, with the names resolved at the end of
// the run. Read back exactly; private; anything else refused with one line.
namespace {

// Two recordings (pids 31 and 32, 3 and 4 calls) and one resolved name, written as a file: its bytes.
std::vector<unsigned char> valid_recording_file(mode_t* mode = nullptr) {
    const std::string a = temp("ra"), b = temp("rb"), out = temp("rout");
    write_file(a, image(31, 3));
    write_file(b, image(32, 4));
    tools::SymbolTable names;
    tools::SymbolInfo s;
    s.symbol = "handle_request(int)";
    s.file = "/src/app.cpp";
    s.line = 40;
    s.inlined.push_back({"inner()", "/src/app.h", 7});
    names.add({"/gone/app", "abcd"}, 0x1418, s);
    std::string error;
    uint64_t size = 0;
    EXPECT_TRUE(tools::write_recording_file({a, b}, &names, out, &error, &size)) << error;
    struct stat st {};
    EXPECT_EQ(stat(out.c_str(), &st), 0);
    if (mode) *mode = st.st_mode & 07777;
    std::vector<unsigned char> bytes = read_file(out);
    EXPECT_EQ(bytes.size(), size);
    for (const std::string& p : {a, b, out}) std::filesystem::remove(p);
    return bytes;
}

std::string file_refusal(const std::vector<unsigned char>& bytes) {
    std::string error;
    auto r = tools::parse_recording_file(bytes, "test", &error);
    EXPECT_FALSE(r.has_value());
    EXPECT_FALSE(error.empty());
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
    return error;
}

}  // namespace

TEST(RecordingFile, ReadsBackRecordingsAndTheirNamesPrivately) {
    mode_t mode = 0;
    const std::vector<unsigned char> bytes = valid_recording_file(&mode);
    EXPECT_EQ(mode, 0600u);
    ASSERT_TRUE(tools::is_recording_file(bytes));
    std::string error;
    auto r = tools::parse_recording_file(bytes, "test", &error);
    ASSERT_TRUE(r.has_value()) << error;
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ((*r)[0].pid, 31);
    EXPECT_EQ((*r)[1].pid, 32);
    EXPECT_EQ((*r)[0].totals()[f::counter_index(f::kClockGettime, 1)], 3u);
    EXPECT_EQ((*r)[1].totals()[f::counter_index(f::kClockGettime, 1)], 4u);
    ASSERT_NE((*r)[0].symbols, nullptr);
    EXPECT_EQ((*r)[0].symbols, (*r)[1].symbols);  // one table for the session
    const tools::SymbolInfo* s = (*r)[0].symbols->find({"/gone/app", "abcd"}, 0x1418);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->symbol, "handle_request(int)");
    EXPECT_EQ(s->file, "/src/app.cpp");
    EXPECT_EQ(s->line, 40);
    ASSERT_EQ(s->inlined.size(), 1u);
    EXPECT_EQ(s->inlined[0].function, "inner()");
    EXPECT_EQ(s->inlined[0].line, 7);
    EXPECT_EQ((*r)[0].symbols->find({"/gone/app", "abce"}, 0x1418), nullptr);  // another build
    // The symbolizer answers from the table: the module file does not exist.
    tools::Symbolizer symbolizer;
    symbolizer.use_table((*r)[0].symbols);
    EXPECT_EQ(symbolizer.lookup({"/gone/app", "abcd"}, 0x1418).symbol, "handle_request(int)");
    EXPECT_EQ(symbolizer.lookup({"/gone/app", "abcd"}, 0x1419).problem, "file not found");
}

TEST(RecordingFile, NamesResolvedWhileCollectingAreKept) {
    auto table = std::make_shared<tools::SymbolTable>();
    table->collect = true;
    tools::Symbolizer symbolizer;
    symbolizer.use_table(table);
    symbolizer.lookup({"/nonexistent/x", ""}, 0x10);
    ASSERT_EQ(table->size(), 1u);
    EXPECT_EQ(table->find({"/nonexistent/x", ""}, 0x10)->problem, "file not found");
}

TEST(RecordingFile, RefusesGarbageNewerVersionsAndEveryTruncation) {
    const std::vector<unsigned char> good = valid_recording_file();
    std::vector<unsigned char> b = good;
    b[8] = 3;  // major
    EXPECT_EQ(file_refusal(b),
              "test: recording file version 3.0 is not compatible with this vdsotrace, which reads 1.x to 2.x");
    b = good;
    std::reverse(b.begin() + 12, b.begin() + 16);
    EXPECT_NE(file_refusal(b).find("byte order"), std::string::npos);
    b = good;
    std::swap(b[12], b[15]);
    EXPECT_EQ(file_refusal(b), "test: the recording's header is corrupt");
    b = good;
    const uint64_t huge = uint64_t(1) << 40;
    memcpy(b.data() + 16, &huge, 8);  // payload size
    EXPECT_EQ(file_refusal(b), "test: the recording says it holds 1099511627776 bytes: corrupt");
    b = good;
    const uint64_t less = 100;
    memcpy(b.data() + 16, &less, 8);
    EXPECT_NE(file_refusal(b).find("truncated or corrupt"), std::string::npos);
    b = good;
    for (size_t i = 40; i < b.size(); ++i) b[i] = uint8_t(i * 7);
    file_refusal(b);
    b = good;
    b.push_back(1);
    EXPECT_NE(file_refusal(b).find("1 bytes after the frame"), std::string::npos);
    for (size_t n = 8; n < good.size(); ++n) file_refusal(std::vector<unsigned char>(good.begin(), good.begin() + long(n)));
    std::mt19937_64 rng(7);
    for (int i = 0; i < 500; ++i) {
        b = good;
        b[rng() % b.size()] = uint8_t(rng());
        std::string error;
        if (!tools::parse_recording_file(b, "fuzz", &error)) {
            EXPECT_FALSE(error.empty());
        }
    }
}

TEST(RecordingFile, LoadRecordingsSaysWhatIsWrongWithAFile) {
    const std::string p = temp("garbage.vdsotrace");
    write_file(p, std::vector<unsigned char>{'h', 'e', 'l', 'l', 'o', '\n'});
    std::string error;
    EXPECT_FALSE(tools::load_recordings(p, &error).has_value());
    EXPECT_NE(error.find("garbage.vdsotrace: 6 bytes is too short for a vdsotrace recording"), std::string::npos) << error;
    std::filesystem::remove(p);
}

TEST(SymbolTable, RefusesMalformedEntries) {
    std::string error;
    EXPECT_EQ(tools::SymbolTable::from_json("{", &error), nullptr);
    EXPECT_EQ(error, "the symbol table is not a JSON array");
    EXPECT_EQ(tools::SymbolTable::from_json(R"([{"module":"/a","address":1},{"module":3,"address":1}])", &error), nullptr);
    EXPECT_EQ(error, "entry 2 of the symbol table is malformed");
    EXPECT_EQ(tools::SymbolTable::from_json(R"([{"module":"/a","address":1,"line":-4}])", &error), nullptr);
    EXPECT_EQ(tools::SymbolTable::from_json(R"([{"module":"/a","address":1,"inlined":[{"line":"x"}]}])", &error), nullptr);
    auto ok = tools::SymbolTable::from_json(R"([{"module":"/a","address":16,"symbol":"f","line":3}])", &error);
    ASSERT_NE(ok, nullptr) << error;
    EXPECT_EQ(ok->find({"/a", ""}, 16)->line, 3);
}

// The recording file written while the run goes on (recording_stream.h): every entry added is in
// the file at once, whole, so a run that never finishes it still leaves its recordings readable.
namespace {

tools::SegmentImage packed(int pid, uint64_t calls) {
    const std::vector<unsigned char> bytes = image(pid, calls);
    return tools::pack_segment_image(temp("seg" + std::to_string(pid)), bytes);
}

std::vector<unsigned char> file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<unsigned char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

uint64_t header_payload_size(const std::vector<unsigned char>& bytes) {
    uint64_t size = 0;
    memcpy(&size, bytes.data() + 16, sizeof size);
    return size;
}

}  // namespace

TEST(RecordingStream, EachEntryIsInTheFileWholeBeforeTheRunEnds) {
    const std::string out = temp("stream.vdsotrace");
    std::string error;
    {
        auto stream = tools::RecordingStream::create(out, &error);
        ASSERT_NE(stream, nullptr) << error;
        EXPECT_EQ(stream->partial_path(), out + ".partial");
        ASSERT_TRUE(stream->add_image(packed(41, 7), &error)) << error;
        ASSERT_TRUE(stream->add_image(packed(42, 8), &error)) << error;
        EXPECT_EQ(stream->entries(), 2u);

        // What a run killed now leaves: the partial file, its size still unknown in the header.
        const std::vector<unsigned char> partial = file_bytes(out + ".partial");
        ASSERT_GT(partial.size(), sizeof(tools::RecordingFileHeader));
        EXPECT_EQ(header_payload_size(partial), 0u);
        auto r = tools::parse_recording_file(partial, "killed", &error);
        ASSERT_TRUE(r.has_value()) << error;
        ASSERT_EQ(r->size(), 2u);
        EXPECT_EQ((*r)[0].pid, 41);
        EXPECT_EQ((*r)[1].pid, 42);
        EXPECT_EQ((*r)[1].totals()[f::counter_index(f::kClockGettime, 1)], 8u);

        // Cut anywhere, it reads the entries that are whole (never more, never a crash) or says why.
        for (size_t n = 0; n <= partial.size(); ++n) {
            std::string why;
            auto cut = tools::parse_recording_file(std::vector<unsigned char>(partial.begin(), partial.begin() + long(n)),
                                                   "cut", &why);
            if (cut) {
                EXPECT_LE(cut->size(), 2u);
                EXPECT_EQ((*cut)[0].pid, 41);
            } else {
                EXPECT_FALSE(why.empty());
            }
        }

        tools::SymbolTable names;
        tools::SymbolInfo s;
        s.symbol = "tick()";
        names.add({"/gone/app", "ef01"}, 0x20, s);
        ASSERT_TRUE(stream->add_image(packed(43, 9), &error)) << error;
        ASSERT_TRUE(stream->add_entry(tools::kSymbolsEntry, names.to_json(), &error)) << error;
        uint64_t size = 0;
        ASSERT_TRUE(stream->finish(&size, &error)) << error;
        EXPECT_EQ(size, std::filesystem::file_size(out));
    }
    EXPECT_FALSE(std::filesystem::exists(out + ".partial"));
    const std::vector<unsigned char> done = file_bytes(out);
    EXPECT_GT(header_payload_size(done), 0u);  // finished: the size is known and checked
    auto r = tools::load_recordings(out, &error);
    ASSERT_TRUE(r.has_value()) << error;
    ASSERT_EQ(r->size(), 3u);
    EXPECT_EQ((*r)[2].pid, 43);
    ASSERT_NE((*r)[2].symbols, nullptr);
    EXPECT_EQ((*r)[2].symbols->find({"/gone/app", "ef01"}, 0x20)->symbol, "tick()");
    // A finished file cut short is refused, as before: only an unfinished one is read in part.
    for (size_t n = sizeof(tools::RecordingFileHeader); n < done.size(); n += 7)
        file_refusal(std::vector<unsigned char>(done.begin(), done.begin() + long(n)));
    std::filesystem::remove(out);
}

TEST(RecordingStream, AStreamNotFinishedLeavesNothingBehind) {
    // `run` gives up on its file (the segments stay in /dev/shm): no half file is left.
    const std::string out = temp("unfinished.vdsotrace");
    std::string error;
    {
        auto stream = tools::RecordingStream::create(out, &error);
        ASSERT_NE(stream, nullptr) << error;
        ASSERT_TRUE(stream->add_image(packed(44, 1), &error)) << error;
        EXPECT_TRUE(std::filesystem::exists(out + ".partial"));
    }
    EXPECT_FALSE(std::filesystem::exists(out + ".partial"));
    EXPECT_FALSE(std::filesystem::exists(out));
    EXPECT_EQ(tools::RecordingStream::create("/nonexistent/dir/x.vdsotrace", &error), nullptr);
    EXPECT_EQ(error, "cannot write /nonexistent/dir/x.vdsotrace.partial: No such file or directory");
}

TEST(RecordingFile, ReadsAFileOfTheFirstMajor) {
    // Written by the vdsotrace of session 23 (one frame, its size in the header, counted entries).
    const char* dir = getenv("CORPUS_DIR");
    ASSERT_NE(dir, nullptr);
    const std::vector<unsigned char> old = file_bytes(std::string(dir) + "/demo_packed.recording");
    ASSERT_GE(old.size(), 10u);
    EXPECT_EQ(old[8], 1);  // major 1
    std::string error;
    auto r = tools::parse_recording_file(old, "old", &error);
    ASSERT_TRUE(r.has_value()) << error;
    EXPECT_FALSE(r->empty());
}
