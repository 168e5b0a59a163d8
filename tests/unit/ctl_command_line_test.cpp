#include "userd/ctl/ctl_command_line.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace tcpfo;

namespace {

Result<CtlCommandLine> parse(std::vector<std::string> words) {
    words.insert(words.begin(), "failoverctl");
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    return parse_ctl_command_line(int(words.size()), argv.data());
}

}  // namespace

TEST(CtlCommandLine, StatusAsBefore) {
    auto cl = parse({"--control", "/tmp/x.sock", "status", "--conn=7"});
    ASSERT_TRUE(cl) << cl.error().message;
    EXPECT_EQ(cl->command, CtlCommandLine::Command::status);
    EXPECT_EQ(cl->control, "/tmp/x.sock");
    EXPECT_EQ(cl->conn, 7u);
    auto dflt = parse({"status"});
    ASSERT_TRUE(dflt);
    EXPECT_EQ(dflt->control, kDefaultControlPath);
    EXPECT_TRUE(parse({"status", "--help"})->help);
}

TEST(CtlCommandLine, HandoverWithAndWithoutNode) {
    auto any = parse({"--control=/tmp/p.sock", "handover"});
    ASSERT_TRUE(any) << any.error().message;
    EXPECT_EQ(any->command, CtlCommandLine::Command::handover);
    EXPECT_FALSE(any->node);
    auto named = parse({"handover", "192.0.2.11:7100"});
    ASSERT_TRUE(named) << named.error().message;
    EXPECT_EQ(named->node, "192.0.2.11:7100");
    EXPECT_EQ(parse({"handover", "2"})->node, "2");
}

TEST(CtlCommandLine, BadCommandLinesGetOneLineErrors) {
    struct Case {
        std::vector<std::string> words;
        const char* message;
    };
    const Case cases[] = {
        {{}, "no command given"},
        {{"--control"}, "--control needs a path"},
        {{"bogus"}, "unknown command 'bogus'"},
        {{"status", "extra"}, "unknown argument 'extra'"},
        {{"status", "--conn", "x"}, "--conn: 'x' is not a connection id"},
        {{"status", "--frob"}, "unknown argument '--frob'"},
        {{"handover", "a", "b"}, "handover takes one node at most, not 'b'"},
        {{"handover", "--conn", "3"}, "--conn is for status, not handover"},
        {{"handover", std::string(65, 'x')},
         "handover: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' is too long for a node (64 "
         "characters at most)"},
    };
    for (const auto& c : cases) {
        auto cl = parse(c.words);
        ASSERT_FALSE(cl) << c.message;
        EXPECT_EQ(cl.error().message, c.message);
        EXPECT_EQ(cl.error().message.find('\n'), std::string::npos);
    }
}
