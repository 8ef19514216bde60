// Replication positions and the pure decisions made on them: MariaDB GTID lists and
// PostgreSQL LSNs parsed and compared, check hysteresis, and the failover candidate choice.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::health {

// A MariaDB GTID position "D-S-N[,D-S-N...]": per replication domain, the last sequence number.
using GtidPos = std::map<uint32_t, uint64_t>;
std::optional<GtidPos> ParseGtidPos(std::string_view text);
// Whether A holds every transaction of B (per domain, A's sequence >= B's).
bool GtidCovers(const GtidPos& a, const GtidPos& b);
// A total to rank positions that share their domains (sum of sequence numbers).
uint64_t GtidWeight(const GtidPos& p);

// A PostgreSQL LSN "16/B374D848".
std::optional<uint64_t> ParseLsn(std::string_view text);

// An engine-neutral replication position: per stream, the last sequence number. MariaDB:
// one entry per GTID domain (the GTID sequence number); PostgreSQL: one stream (0) whose
// "sequence" is the LSN in bytes. Empty: unknown.
using Position = GtidPos;
inline Position LsnPosition(uint64_t lsn) {
  return lsn ? Position{{0, lsn}} : Position{};
}
// How far HAVE is behind WANT: the sum over WANT's streams of the sequence numbers (GTID
// transactions, WAL bytes) HAVE lacks. 0 when HAVE covers WANT.
uint64_t Behind(const Position& have, const Position& want);
// Per stream, the further of the two.
Position Furthest(const Position& a, const Position& b);
// "0-1-42,1-1-7" / "0/16B374D8": how a position is shown in events.
std::string PositionText(const Position& p);

// ONLINE/SHUNNED with hysteresis: FAIL consecutive bad checks shun a healthy node, RECOVER
// consecutive good ones bring it back.
class Hysteresis {
 public:
  Hysteresis(int fail, int recover) : fail_(fail), recover_(recover) {}
  // Returns true when healthy() changed.
  bool Observe(bool good);
  bool healthy() const { return healthy_; }
  int bad_streak() const { return bad_; }

 private:
  int fail_;
  int recover_;
  bool healthy_ = true;
  int bad_ = 0;
  int good_ = 0;
};

// One replica as the failover sees it.
struct Candidate {
  std::string name;  // host:port
  bool reachable = false;
  bool replication_broken = false;
  // How far what it received is behind the last position sluice saw on the primary
  // (Behind()); any amount is data the primary acknowledged and the candidate lacks.
  uint64_t behind = 0;
  bool operator_offline = false;
  uint64_t position = 0;  // total of what it received (GtidWeight), for ranking
  int priority = 0;
};

// The most advanced eligible candidate (ties: higher priority, then name); nullopt with
// WHY naming every exclusion when none qualifies.
std::optional<Candidate> PickCandidate(const std::vector<Candidate>& all, std::string* why);

}  // namespace sluice::health
