// `vdsotrace top [SESSION | PID]`: calls per second, live. On a terminal a full-screen view
// (ANSI escapes, termios raw mode) refreshed every interval, with keys: q quit, p pause,
// s sort (rate, total, name). Otherwise plain text blocks, one per interval, until every
// process of the target has ended; --once measures one interval; --json for scripts.
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "tools/commands/commands.h"
#include "tools/commands/command.h"
#include "tools/commands/command_options.h"
#include "tools/render/live_view_text.h"
#include "tools/recordings/recording_store.h"

namespace vdsotrace::tools {

namespace {

// Raw keyboard input for the interactive view; restores the terminal however we leave.
class RawTerminal {
public:
    RawTerminal() {
        if (tcgetattr(STDIN_FILENO, &saved_) != 0) return;
        termios raw = saved_;
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO);  // keys one by one, unechoed; Ctrl-C still interrupts
        raw.c_cc[VMIN] = 0;
        raw.c_cc[VTIME] = 0;
        active_ = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
        std::fputs("\x1b[?25l", stdout);  // hide the cursor
    }
    ~RawTerminal() {
        std::fputs("\x1b[?25h\n", stdout);
        std::fflush(stdout);
        if (active_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
    }
    RawTerminal(const RawTerminal&) = delete;
    RawTerminal& operator=(const RawTerminal&) = delete;

private:
    termios saved_{};
    bool active_ = false;
};

size_t terminal_width(size_t fallback) {
    winsize ws{};
    return ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : fallback;
}
size_t terminal_height() {
    winsize ws{};
    return ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 ? ws.ws_row : 24;
}

bool all_ended(const Reading& r) {
    for (const auto& [file, rec] : r.recordings)
        if (fate_of(rec) == ProcessFate::kRunning || (fate_of(rec) == ProcessFate::kExeced && process_alive(rec)))
            return false;
    return true;
}

const char* sort_name(SortKey k) { return k == SortKey::kRate ? "rate" : k == SortKey::kTotal ? "total" : "name"; }

// Waits up to `seconds` for a key on stdin; returns it, or 0.
int wait_key(double seconds) {
    pollfd p{STDIN_FILENO, POLLIN, 0};
    if (poll(&p, 1, int(seconds * 1000)) <= 0) return 0;
    char c = 0;
    return read(STDIN_FILENO, &c, 1) == 1 ? c : 0;
}

int interactive(const TopOptions& o, Reading before) {
    RawTerminal raw;
    CallerNamer namer;
    SortKey key = SortKey::kRate;
    bool paused = false;
    LiveView view;
    for (;;) {
        const int k = wait_key(o.interval);
        if (k == 'q' || k == 'Q' || k == 3 || k == 4) return kExitOk;
        if (k == 'p' || k == ' ') paused = !paused;
        if (k == 's') key = key == SortKey::kRate ? SortKey::kTotal : key == SortKey::kTotal ? SortKey::kName : SortKey::kRate;
        if (!paused && k == 0) {
            Reading after;
            std::string error;
            if (take_reading(o.target, &after, &error)) {
                view = compute_view(before, after, key, o.rows, &namer);
                before = std::move(after);
            }
        }
        const size_t width = terminal_width(80), height = terminal_height();
        std::vector<std::string> lines = view_lines(
            view,
            fmt::format("vdsotrace top {} - every {:g} s, sort: {}{}  [q]uit [p]ause [s]ort", o.target, o.interval,
                        sort_name(key), paused ? " (paused)" : ""),
            width);
        std::string screen = "\x1b[H";
        for (size_t i = 0; i < lines.size() && i + 1 < height; ++i) screen += lines[i] + "\x1b[K\n";
        screen += "\x1b[J";
        std::fputs(screen.c_str(), stdout);
        std::fflush(stdout);
    }
}

}  // namespace

int cmd_top(const TopOptions& given) {
    // No target: the newest session, chosen once (a session started meanwhile must not replace it)
    // and named on stderr.
    TopOptions o = given;
    if (o.target.empty()) {
        std::string note;
        o.target = newest_session(getuid(), &note);
        if (!o.target.empty()) spdlog::info("{}", note);
    }
    Reading before;
    std::string error;
    if (!take_reading(o.target, &before, &error)) {
        spdlog::error("{}", error);
        return kExitBadInput;
    }
    if (!o.once && !o.json && isatty(STDOUT_FILENO) && isatty(STDIN_FILENO)) {
        std::fputs("\x1b[2J", stdout);
        return interactive(o, std::move(before));
    }
    CallerNamer namer;
    for (;;) {
        usleep(useconds_t(o.interval * 1e6));
        Reading after;
        if (!take_reading(o.target, &after, &error)) {
            spdlog::error("{}", error);
            return kExitBadInput;
        }
        const LiveView view = compute_view(before, after, SortKey::kRate, o.rows, &namer);
        if (o.json) {
            std::cout << view_json(view).dump(o.once ? 2 : -1) << std::endl;
        } else {
            for (const std::string& line : view_lines(view, fmt::format("vdsotrace top {}", o.target), 160))
                std::cout << line << "\n";
            std::cout << std::endl;
        }
        if (o.once || all_ended(after)) return kExitOk;
        before = std::move(after);
    }
}

Command register_top(CLI::App& vdsotrace) {
    auto top = std::make_shared<TopOptions>();
    CLI::App* cmd = vdsotrace.add_subcommand("top", "Live calls per second of a running session or process");
    cmd->add_option("target", top->target, "SESSION or PID (default: the newest session)");
    cmd->add_option("--interval", top->interval, "Seconds between refreshes")->check(CLI::Range(0.05, 3600.0));
    cmd->add_flag("--once", top->once, "Measure one interval, print, exit");
    cmd->add_flag("--json", top->json, "Write JSON (with --once: one object; else one per line)");
    cmd->add_option("--top", top->rows, "Callers shown")->check(kAtLeastOne);
    return {cmd, [top] { return cmd_top(*top); }};
}

}  // namespace vdsotrace::tools
