#include "client_options.h"

#include <string_view>

#include "stream_protocol.h"
#include "tool_args.h"

namespace tcpfo::streamtest {

const char* const client_usage =
    "usage: tcpfo-stream-client MODE --connect ADDR:PORT [options]\n"
    "modes:\n"
    "  echo --bytes N        send N pattern bytes per connection, verify the echo\n"
    "  download --bytes N    receive N server pattern bytes per connection (SOURCE)\n"
    "  upload --bytes N      send N bytes, verify the server's count and crc32 (SINK)\n"
    "  half-close --bytes N  receive N bytes then the server's FIN, then send a trailer\n"
    "  rr [--size S] [--count C]  request/response latency over echo (p50/p99)\n"
    "  counter --bytes N     send N bytes of 32-byte requests (N a multiple of 32), verify\n"
    "                        every reply of the service's shared counter (COUNTER)\n"
    "  stamp --bytes N       send N bytes of 32-byte requests (N a multiple of 32), verify\n"
    "                        every reply's index, crc32 and zero bytes, and that the\n"
    "                        service's time never goes back by more than 1 s (STAMP)\n"
    "options:\n"
    "  --conns N             concurrent connections (default 1)\n"
    "  --rate MB/S           pace each connection (sending, or reading for downloads)\n"
    "  --pause-at BYTES      stop at BYTES per connection: sending (echo, upload,\n"
    "                        counter, stamp) or reading (download, half-close) ...\n"
    "  --resume-file F       ... and stay there until file F exists\n"
    "  --progress-file F     keep 'verified V sent S done D failed X paused P acked A\n"
    "                        slowest L finished F live C' in F (every 50 ms): A payload\n"
    "                        the server acknowledged, L the least progress of one\n"
    "                        connection (verified bytes; upload: acknowledged), F\n"
    "                        connections over (passed or failed), C connections open\n"
    "  --crash-file F        F will hold the wall-clock ns of a crash: report crash_stall_ms, the\n"
    "                        longest receive gap of any connection in the half-second after it,\n"
    "                        and pre_crash_gap_ms, the longest that ended before it\n"
    "  --crash-window-ms MS  ... in the MS ms after it instead (500): with a small MS, the gap\n"
    "                        that spans the crash's moment, not a later one of a loaded machine\n"
    "  --ports-file F        write the local ports to F once all are connected, and at the end\n"
    "  --timeout-s S         fail every unfinished connection after S seconds (60)\n"
    "  --report-gaps-ms MS   print each receive gap of MS or more to stderr (connection,\n"
    "                        local port, when, bytes so far)\n"
    "  --seed N              pattern seed of the first connection (default 1)\n"
    "  --label TEXT          name of the run in the summary line\n"
    "  --nodelay             set TCP_NODELAY (rr sets it anyway)\n"
    "  --expect-resets N     pass only if exactly N connections end in a reset, the rest whole\n"
    "exit status: 0 every byte verified, 1 a byte lost/duplicated/reordered/corrupted,\n"
    "  a reset, an early EOF or a timeout, 2 bad command line\n";

Result<ClientOptions> parse_client_options(int argc, char** argv, bool& help) {
    ClientOptions options;
    help = false;
    if (argc < 2) return fail("missing MODE (echo, download, upload, half-close, rr, counter, stamp)");
    std::string_view mode = argv[1];
    if (mode == "--help" || mode == "-h") {
        help = true;
        return options;
    }
    if (mode == "echo") options.mode = ClientMode::echo;
    else if (mode == "download") options.mode = ClientMode::download;
    else if (mode == "upload") options.mode = ClientMode::upload;
    else if (mode == "half-close") options.mode = ClientMode::half_close;
    else if (mode == "rr") options.mode = ClientMode::request_response;
    else if (mode == "counter") options.mode = ClientMode::counter;
    else if (mode == "stamp") options.mode = ClientMode::stamp;
    else return fail("unknown mode '{}' (echo, download, upload, half-close, rr, counter, stamp)", mode);

    bool have_target = false;
    for (int i = 2; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            help = true;
            return options;
        }
        if (arg == "--nodelay") {
            options.nodelay = true;
            continue;
        }
        if (i + 1 >= argc) return fail("{} needs a value (or is unknown)", arg);
        std::string_view value = argv[++i];
        auto set_size = [&](std::uint64_t& field) -> Result<void> {
            auto parsed = parse_size(arg, value);
            if (!parsed) return std::unexpected(parsed.error());
            field = *parsed;
            return {};
        };
        Result<void> ok;
        if (arg == "--connect") {
            auto parsed = parse_endpoint(arg, value);
            if (!parsed) return std::unexpected(parsed.error());
            options.target = *parsed;
            have_target = true;
        } else if (arg == "--bytes") ok = set_size(options.bytes);
        else if (arg == "--conns") ok = set_size(options.conns);
        else if (arg == "--expect-resets") ok = set_size(options.expect_resets);
        else if (arg == "--size") ok = set_size(options.rr_size);
        else if (arg == "--count") ok = set_size(options.rr_count);
        else if (arg == "--pause-at") {
            std::uint64_t at = 0;
            ok = set_size(at);
            options.pause_at = at;
        } else if (arg == "--rate") {
            auto parsed = parse_positive_double(arg, value);
            if (!parsed) return std::unexpected(parsed.error());
            options.rate_mb_per_s = *parsed;
        } else if (arg == "--timeout-s") {
            auto parsed = parse_positive_double(arg, value);
            if (!parsed) return std::unexpected(parsed.error());
            options.timeout_s = *parsed;
        } else if (arg == "--report-gaps-ms") {
            auto parsed = parse_positive_double(arg, value);
            if (!parsed) return std::unexpected(parsed.error());
            options.report_gaps_ms = *parsed;
        } else if (arg == "--crash-window-ms") {
            auto parsed = parse_positive_double(arg, value);
            if (!parsed) return std::unexpected(parsed.error());
            options.crash_window_ms = *parsed;
        } else if (arg == "--seed") {
            auto parsed = parse_uint(arg, value);
            if (!parsed || *parsed > 65535) return fail("--seed: expected 0..65535, got '{}'", value);
            options.seed_base = static_cast<std::uint16_t>(*parsed);
        } else if (arg == "--resume-file") options.resume_file = value;
        else if (arg == "--progress-file") options.progress_file = value;
        else if (arg == "--crash-file") options.crash_file = value;
        else if (arg == "--ports-file") options.ports_file = value;
        else if (arg == "--label") options.label = value;
        else return fail("unknown option {}", arg);
        if (!ok) return std::unexpected(ok.error());
    }

    if (!have_target) return fail("--connect ADDR:PORT is required");
    if (options.conns == 0 || options.conns > 60000) return fail("--conns: expected 1..60000");
    if (options.expect_resets > options.conns) return fail("--expect-resets: at most --conns");
    if (options.mode == ClientMode::request_response) {
        if (options.rr_size == 0 || options.rr_count == 0) return fail("rr: --size and --count must be positive");
        if (options.rr_count > 10'000'000) return fail("rr: --count at most 10000000");
        options.bytes = options.rr_size * options.rr_count;
        options.nodelay = true;
    } else if (options.bytes == 0) {
        return fail("--bytes N (N > 0) is required for mode {}", mode);
    } else if (options.mode == ClientMode::counter && options.bytes % counter_request_size != 0) {
        return fail("counter: --bytes must be a multiple of {} (whole requests), got {}", counter_request_size,
                    options.bytes);
    } else if (options.mode == ClientMode::stamp && options.bytes % stamp_request_size != 0) {
        return fail("stamp: --bytes must be a multiple of {} (whole requests), got {}", stamp_request_size,
                    options.bytes);
    }
    if (options.pause_at) {
        if (options.mode == ClientMode::request_response) return fail("--pause-at does not work with rr");
        if (options.resume_file.empty()) return fail("--pause-at needs --resume-file");
        if (*options.pause_at == 0 || *options.pause_at >= options.bytes)
            return fail("--pause-at must be between 1 and --bytes - 1");
    } else if (!options.resume_file.empty()) {
        return fail("--resume-file needs --pause-at");
    }
    return options;
}

}  // namespace tcpfo::streamtest
