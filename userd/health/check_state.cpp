#include "userd/health/check_state.h"

namespace tcpfo {

bool CheckState::count(const ProbeOutcome& outcome) {
    ++results_;
    // A result that agrees with the state ends the streak against it.
    if (outcome.ok == up_) {
        streak_ = 0;
        return false;
    }
    if (++streak_ < (up_ ? fall_ : rise_)) return false;
    up_ = !up_;
    streak_ = 0;
    return true;
}

}  // namespace tcpfo
