// The pprof profile (tools/pprof/profile.proto) of the sampled stacks, gzip-compressed as pprof
// expects: one sample per distinct stack with its exact call count, a location per return
// address (inlined functions as extra lines of that location), a function per name and file,
// a mapping per module. The clock call itself is the leaf location, in no mapping.
#include <map>
#include <tuple>

#include <zlib.h>

#include "tools/pprof/profile.pb.h"
#include "tools/render/stack_export.h"

namespace vdsotrace::tools {

namespace {

namespace pp = perftools::profiles;

class ProfileBuilder {
public:
    ProfileBuilder() {
        intern("");  // string_table[0] must be ""
        auto* type = profile_.add_sample_type();
        type->set_type(intern("calls"));
        type->set_unit(intern("count"));
    }

    void add(const StackRow& row) {
        pp::Sample* sample = profile_.add_sample();
        sample->add_location_id(leaf_location(row.function));
        // Frames are root first, an address's inlined functions after it: walk from the leaf.
        size_t end = row.frames.size();
        while (end > 0) {
            size_t begin = end - 1;
            while (begin > 0 && row.frames[begin].inlined) --begin;
            sample->add_location_id(location(row.frames, begin, end));
            end = begin;
        }
        sample->add_value(int64_t(row.calls));
        if (!row.clock.empty()) {
            pp::Label* label = sample->add_label();
            label->set_key(intern("clock"));
            label->set_str(intern(row.clock));
        }
    }

    pp::Profile& finish() {
        for (auto& [path, m] : mappings_) {
            pp::Mapping* pm = profile_.mutable_mapping(int(m.index));
            pm->set_memory_start(m.start);
            pm->set_memory_limit(m.limit);
        }
        return profile_;
    }

private:
    struct MappingState {
        uint64_t index = 0;
        uint64_t start = UINT64_MAX, limit = 0;
    };

    int64_t intern(const std::string& s) {
        auto [it, added] = strings_.emplace(s, int64_t(strings_.size()));
        if (added) profile_.add_string_table(s);
        return it->second;
    }

    uint64_t function(const std::string& name, const std::string& file) {
        auto [it, added] = functions_.emplace(std::make_pair(name, file), uint64_t(functions_.size() + 1));
        if (added) {
            pp::Function* f = profile_.add_function();
            f->set_id(it->second);
            f->set_name(intern(name));
            f->set_system_name(intern(name));
            f->set_filename(intern(file));
        }
        return it->second;
    }

    uint64_t mapping(const StackFrame& fr) {
        auto it = mappings_.find(fr.module);
        if (it == mappings_.end()) {
            pp::Mapping* m = profile_.add_mapping();
            m->set_id(uint64_t(mappings_.size() + 1));
            m->set_filename(intern(fr.module));
            m->set_has_functions(true);
            m->set_has_filenames(true);
            m->set_has_line_numbers(true);
            m->set_has_inline_frames(true);
            it = mappings_.emplace(fr.module, MappingState{uint64_t(mappings_.size()), UINT64_MAX, 0}).first;
        }
        // The module's load bias is where its ELF address 0 is: map from there, so that
        // address - memory_start is the ELF address the frames were named with.
        it->second.start = std::min(it->second.start, fr.address - fr.offset);
        it->second.limit = std::max(it->second.limit, fr.address + 1);
        return it->second.index + 1;
    }

    // frames[begin] is the function the return address lies in, frames[begin+1..end) what was
    // inlined into it, outermost first; pprof wants the innermost line first.
    uint64_t location(const std::vector<StackFrame>& frames, size_t begin, size_t end) {
        const StackFrame& base = frames[begin];
        const auto [id, loc] = new_location({base.module, base.address, end - begin});
        if (loc == nullptr) return id;
        loc->set_address(base.address);
        if (!base.module.empty()) loc->set_mapping_id(mapping(base));
        for (size_t i = end; i-- > begin;) {
            pp::Line* line = loc->add_line();
            line->set_function_id(function(frames[i].name(), frames[i].file));
            line->set_line(frames[i].line);
        }
        return id;
    }

    uint64_t leaf_location(const std::string& clock_function) {
        const auto [id, loc] = new_location({"[clock] " + clock_function, 0, 0});
        if (loc != nullptr) loc->add_line()->set_function_id(function(clock_function, ""));
        return id;
    }

    // A location is one (module, address, frames inlined there); the clock leaves have no module
    // or address and are told apart by their "[clock] function" name.
    using LocationKey = std::tuple<std::string, uint64_t, size_t>;

    // The id of the location `key`, and the profile's new Location to fill in when `key` had
    // none yet (null when it had).
    std::pair<uint64_t, pp::Location*> new_location(const LocationKey& key) {
        const auto [it, added] = locations_.emplace(key, uint64_t(locations_.size() + 1));
        if (!added) return {it->second, nullptr};
        pp::Location* loc = profile_.add_location();
        loc->set_id(it->second);
        return {it->second, loc};
    }

    pp::Profile profile_;
    std::map<std::string, int64_t> strings_;
    std::map<std::pair<std::string, std::string>, uint64_t> functions_;
    std::map<std::string, MappingState> mappings_;
    std::map<LocationKey, uint64_t> locations_;
};

bool gzip(const std::string& in, std::string* out, std::string* error) {
    z_stream z{};
    // 16 + MAX_WBITS: a gzip wrapper, which is what pprof reads.
    if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        *error = "zlib cannot start compressing";
        return false;
    }
    out->resize(deflateBound(&z, uLong(in.size())));
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = uInt(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out->data());
    z.avail_out = uInt(out->size());
    const int rc = deflate(&z, Z_FINISH);
    out->resize(z.total_out);
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        *error = "zlib could not compress the profile";
        return false;
    }
    return true;
}

}  // namespace

bool write_pprof(const StackReport& stacks, std::ostream& out, std::string* error) {
    ProfileBuilder builder;
    for (const StackRow& row : stacks.stacks) builder.add(row);
    pp::Profile& profile = builder.finish();
    profile.set_period(stacks.period);
    auto* period_type = profile.mutable_period_type();
    period_type->set_type(profile.sample_type(0).type());
    period_type->set_unit(profile.sample_type(0).unit());
    std::string raw, packed;
    if (!profile.SerializeToString(&raw)) {
        *error = "protobuf could not serialize the profile";
        return false;
    }
    if (!gzip(raw, &packed, error)) return false;
    out.write(packed.data(), std::streamsize(packed.size()));
    return bool(out);
}

}  // namespace vdsotrace::tools
