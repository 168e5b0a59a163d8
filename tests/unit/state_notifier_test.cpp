// The notify interface: keepalived's argument order for the program, one line per
// change on the FIFO, edge-triggered, and a FIFO without a reader never blocks.
#include "userd/health/state_notifier.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

using namespace tcpfo;

namespace {

std::string temp_path(const char* name) { return fmt::format("/tmp/tcpfo_notify_{}_{}", getpid(), name); }

std::string read_all(int fd) {
    std::string out;
    char buf[512];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, size_t(n));
    return out;
}

}  // namespace

TEST(StateNotifier, FifoLinesAreKeepalivedsAndEdgeTriggered) {
    auto loop = EventLoop::create();
    ASSERT_TRUE(loop);
    const std::string fifo = temp_path("fifo");
    unlink(fifo.c_str());
    auto n = StateNotifier::open(**loop, "", fifo, 200);
    ASSERT_TRUE(n) << n.error().message;
    struct stat st{};
    ASSERT_EQ(stat(fifo.c_str(), &st), 0);
    EXPECT_TRUE(S_ISFIFO(st.st_mode));  // made, as keepalived does
    // No reader: dropped and counted, not blocked.
    (*n)->instance(InstanceState::backup);
    EXPECT_EQ((*n)->fifo_lines_dropped(), 1u);
    const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
    ASSERT_GE(reader, 0);
    (*n)->instance(InstanceState::master);
    (*n)->instance(InstanceState::master);  // the same state again: not told
    (*n)->check("web", false, "HTTP 503");
    (*n)->instance(InstanceState::fault);
    EXPECT_EQ(read_all(reader), "INSTANCE \"tcpfo\" MASTER 200\nCHECK \"web\" DOWN \"HTTP 503\"\n"
                                "INSTANCE \"tcpfo\" FAULT 200\n");
    ::close(reader);
    unlink(fifo.c_str());
}

TEST(StateNotifier, ProgramGetsTypeNameStatePriority) {
    auto loop = EventLoop::create();
    ASSERT_TRUE(loop);
    const std::string out = temp_path("args");
    const std::string script = temp_path("notify.sh");
    std::ofstream(script) << "#!/bin/sh\necho \"$@\" >> " << out << "\n";
    chmod(script.c_str(), 0700);
    unlink(out.c_str());
    auto n = StateNotifier::open(**loop, script, "", 150);
    ASSERT_TRUE(n) << n.error().message;
    (*n)->instance(InstanceState::master);
    const uint64_t deadline = monotonic_ms() + 3000;
    std::string said;
    while (monotonic_ms() < deadline) {
        (void)(*loop)->run_once(20);
        std::ifstream in(out);
        std::stringstream text;
        text << in.rdbuf();
        said = text.str();
        if (!said.empty()) break;
    }
    EXPECT_EQ(said, "INSTANCE tcpfo MASTER 150\n");
    unlink(script.c_str());
    unlink(out.c_str());
}

TEST(StateNotifier, ANonFifoPathIsRefused) {
    auto loop = EventLoop::create();
    ASSERT_TRUE(loop);
    auto n = StateNotifier::open(**loop, "", "/etc/hostname", 100);
    ASSERT_FALSE(n);
    EXPECT_EQ(n.error().message, "notify_fifo: /etc/hostname is not a FIFO");
}
