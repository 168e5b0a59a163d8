// What the BPF tests that attach for real share: shell commands that set up network
// namespaces, and a scope that runs the calling thread in one of them.
#pragma once

#include <string>

namespace tcpfo::test {

// Runs `cmd` through the shell, output discarded; true if it exited 0.
bool sh(const std::string& cmd);
// Runs `cmd` through the shell and returns its standard output.
std::string command_output(const std::string& cmd);

// Switches the calling thread into a named network namespace until destroyed.
class InNetns {
public:
    explicit InNetns(const std::string& name);
    ~InNetns();
    InNetns(const InNetns&) = delete;
    InNetns& operator=(const InNetns&) = delete;
    bool ok() const { return ok_; }

private:
    int home_ = -1;
    bool ok_ = false;
};

}  // namespace tcpfo::test
