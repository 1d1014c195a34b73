// Reads a gzip'd pprof profile back through libprotobuf and prints its samples as folded stacks
// ("root;...;leaf count", function names, inlined lines outermost first), sorted, so tests
// compare it with `vdsotrace --folded`. Exits 1 on anything malformed.
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include "tools/pprof/profile.pb.h"

namespace pp = perftools::profiles;

int main(int argc, char** argv) {
    if (argc != 2) return 2;
    gzFile gz = gzopen(argv[1], "rb");
    if (!gz) return 1;
    std::string raw;
    char buf[65536];
    int n;
    while ((n = gzread(gz, buf, sizeof buf)) > 0) raw.append(buf, size_t(n));
    gzclose(gz);
    pp::Profile p;
    if (!p.ParseFromString(raw)) {
        std::cerr << "not a profile.proto\n";
        return 1;
    }
    auto str = [&](int64_t i) { return i >= 0 && i < p.string_table_size() ? p.string_table(int(i)) : std::string("?"); };
    if (p.string_table_size() == 0 || !p.string_table(0).empty() || p.sample_type_size() != 1) return 1;
    std::cout << "sample_type " << str(p.sample_type(0).type()) << "/" << str(p.sample_type(0).unit()) << "\n";
    std::map<uint64_t, std::string> functions;
    for (const auto& f : p.function()) functions[f.id()] = str(f.name());
    std::map<uint64_t, const pp::Location*> locations;
    for (const auto& l : p.location()) locations[l.id()] = &l;
    std::map<std::string, int64_t> folded;
    for (const auto& s : p.sample()) {
        std::string line;
        for (int i = s.location_id_size(); i-- > 0;) {
            const pp::Location* l = locations.at(s.location_id(i));
            for (int j = l->line_size(); j-- > 0;) line += (line.empty() ? "" : ";") + functions.at(l->line(j).function_id());
        }
        folded[line] += s.value(0);
    }
    for (const auto& [line, count] : folded) std::cout << line << " " << count << "\n";
    std::cout << "mappings " << p.mapping_size() << "\n";
    return 0;
}
