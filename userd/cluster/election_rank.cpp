#include "userd/cluster/election_rank.h"

namespace tcpfo {

bool outranks(const ElectionRank& a, const ElectionRank& b) {
    if (a.log_epoch != b.log_epoch) return a.log_epoch > b.log_epoch;
    if (a.holds_every_connection != b.holds_every_connection) return a.holds_every_connection;
    if (a.log_position != b.log_position) return a.log_position > b.log_position;
    if (a.priority != b.priority) return a.priority > b.priority;
    // Distinct ids rank; the same id (or none) is no better.
    return a.node_id != 0 && b.node_id != 0 && a.node_id < b.node_id;
}

}  // namespace tcpfo
