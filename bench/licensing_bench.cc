// How close licensing comes to the RSA operations it needs.
//
// A publishing license costs one RSA-2048 signature (plus a public-key
// encryption); a use license one RSA-2048 decryption. These benchmarks time
// those raw operations and the whole in-process Publish / EndUserLicense on
// a real provisioned cluster (SQLite store, audit rows in batches as a node
// writes them), so their ratio shows the overhead. EndUserLicense sends one
// publishing license again and again (cached after the first);
// EndUserLicenseFirstTime opens it every time (no cache);
// EndUserLicenseFirstTimeDuringRetention does so beside a retention pass
// over a million audit entries. Run: build/bench/licensing_bench
// --benchmark_repetitions=5
//   --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include "base/file_system.h"
#include "cluster/cluster.h"
#include "crypto/encoding.h"
#include "enrollment/authority.h"
#include "enrollment/service.h"
#include "licensing/audit_retention.h"
#include "licensing/licensing.h"

namespace openrms {
namespace {

constexpr char kPassword[] = "benchmark password";

// The enrollment service answered in-process: the benchmark measures
// licensing, not the network. (A fake transport, for the benchmark only.)
class InProcessIssuer final : public cluster::IssuerTransport {
 public:
  explicit InProcessIssuer(enrollment::EnrollmentService& service) : service_(service) {}
  Result<std::string> PostSoap(const std::string&, const std::string&, const std::string& body,
                               const std::string&) override {
    auto issued = service_.Enroll(body, {"bench", "local"});
    if (!issued.ok()) return protocol::WriteSoapFault(issued.status());
    return protocol::WriteEnrollResponse(issued->chain);
  }

 private:
  enrollment::EnrollmentService& service_;
};

struct World {
  World() {
    dir = (std::filesystem::temp_directory_path() / ("openrms-bench-" + std::to_string(getpid())))
              .string();
    std::filesystem::remove_all(dir);
    (void)enrollment::InitializeAuthority(RealFileSystem(), dir + "/enrollment", kPassword, {},
                                          DefaultClock(), crypto::SystemRandom());
    db = std::move(store::OpenSqlite(dir + "/openrms.db")).value();
    (void)enrollment::EnrollmentService::Migrate(*db);
    (void)cluster::ClusterStore::Migrate(*db);
    (void)licensing::LicensingService::Migrate(*db);
    enroll = std::make_unique<enrollment::EnrollmentService>(
        std::move(enrollment::LoadAuthority(RealFileSystem(), dir + "/enrollment", kPassword))
            .value(),
        *db, DefaultClock(), crypto::SystemRandom());
    transport = std::make_unique<InProcessIssuer>(*enroll);
    store = std::make_unique<cluster::ClusterStore>(*db);
    clusters = std::make_unique<cluster::ClusterService>(
        *store, cluster::Environment{DefaultClock(), crypto::SystemRandom(), *transport});
    cluster::ProvisionRequest r;
    r.name = "BENCH";
    r.url = "https://127.0.0.1:1/bench/_wmcs";
    r.trust_anchor_xml = *RealFileSystem().ReadFile(dir + "/enrollment/trust-anchor.xml", 1 << 20);
    r.issuer_url = "https://in-process";
    r.token = *enroll->NewToken({"bench", "local"});
    auto provisioned = clusters->Provision(r, kPassword);
    if (!provisioned.ok()) std::abort();
    // As a node has it: audit rows in batches off the request's thread.
    audit = std::make_unique<licensing::BatchedAuditTrail>(*db);
    licensing = std::make_unique<licensing::LicensingService>(
        *clusters, *db, DefaultClock(), crypto::SystemRandom(), kPassword,
        licensing::LicensingOptions{.audit = audit.get()});
    // Every publishing license as if seen for the first time.
    uncached = std::make_unique<licensing::LicensingService>(
        *clusters, *db, DefaultClock(), crypto::SystemRandom(), kPassword,
        licensing::LicensingOptions{.audit = audit.get(), .publishing_license_cache = 0});
  }
  ~World() { std::filesystem::remove_all(dir); }

  std::string dir;
  std::unique_ptr<store::Database> db;
  std::unique_ptr<enrollment::EnrollmentService> enroll;
  std::unique_ptr<InProcessIssuer> transport;
  std::unique_ptr<cluster::ClusterStore> store;
  std::unique_ptr<cluster::ClusterService> clusters;
  std::unique_ptr<licensing::BatchedAuditTrail> audit;
  std::unique_ptr<licensing::LicensingService> licensing;
  std::unique_ptr<licensing::LicensingService> uncached;
};

World& TheWorld() {
  static World world;
  return world;
}

// What the RMS SDK's custom-policy JSON reads as (the JSON codec of
// node/api is not timed: the benchmark measures licensing).
const licensing::PublishRequest& PublishRequest() {
  static const licensing::PublishRequest request = [] {
    licensing::Policy custom;
    custom.user_rights = {{{"bob"}, {"VIEW"}}};
    custom.allow_offline = true;
    custom.interval_days = 30;
    return licensing::PublishRequest{std::nullopt, custom};
  }();
  return request;
}

void BM_RsaSign(benchmark::State& state) {
  auto key = TheWorld().clusters->ClusterKey("BENCH", kPassword);
  for (auto _ : state) {
    benchmark::DoNotOptimize((*key)->Sign(crypto::DigestAlgorithm::kSha256, "x"));
  }
}
BENCHMARK(BM_RsaSign)->UseRealTime();

void BM_RsaDecrypt(benchmark::State& state) {
  auto key = TheWorld().clusters->ClusterKey("BENCH", kPassword);
  const std::string sealed = *(*key)->public_key().EncryptOaep(std::string(32, 'k'));
  for (auto _ : state) benchmark::DoNotOptimize((*key)->Decrypt(sealed));
}
BENCHMARK(BM_RsaDecrypt)->UseRealTime();

// The content key sealed to the cluster (a publishing license's second RSA
// operation, a public one).
void BM_OaepEncrypt(benchmark::State& state) {
  auto key = TheWorld().clusters->ClusterKey("BENCH", kPassword);
  const std::string content_key(32, 'k');
  for (auto _ : state) benchmark::DoNotOptimize((*key)->public_key().EncryptOaep(content_key));
}
BENCHMARK(BM_OaepEncrypt)->UseRealTime();

// One draw of the size a content key or a GUID takes.
void BM_Random32(benchmark::State& state) {
  uint8_t bytes[32];
  for (auto _ : state) {
    crypto::SystemRandom().Fill(bytes);
    benchmark::DoNotOptimize(bytes);
  }
}
BENCHMARK(BM_Random32)->UseRealTime();

// The digest of a publishing license's size.
void BM_Sha256_4KiB(benchmark::State& state) {
  const std::string data(4096, 'x');
  for (auto _ : state) benchmark::DoNotOptimize(crypto::Sha256(data));
}
BENCHMARK(BM_Sha256_4KiB)->UseRealTime();

void BM_Publish(benchmark::State& state) {
  World& w = TheWorld();
  const accounts::Identity alice{"alice", {}, "local"};
  for (auto _ : state) {
    auto pl = w.licensing->Publish("BENCH", alice, PublishRequest(), "https://x/my/v2");
    if (!pl.ok()) state.SkipWithError(pl.status().ToString().c_str());
  }
}
BENCHMARK(BM_Publish)->UseRealTime();

void EndUserLicense(benchmark::State& state, licensing::LicensingService& service) {
  World& w = TheWorld();
  auto pl =
      w.licensing->Publish("BENCH", {"alice", {}, "local"}, PublishRequest(), "https://x/my/v2");
  if (!pl.ok()) {
    state.SkipWithError(pl.status().ToString().c_str());
    return;
  }
  const licensing::EndUserLicenseRequest request{pl->publishing_license};
  const accounts::Identity bob{"bob", {}, "local"};
  for (auto _ : state) {
    auto ul = service.EndUserLicense("BENCH", bob, request);
    if (!ul.ok()) state.SkipWithError(ul.status().ToString().c_str());
  }
}

// The same publishing license again and again: opened once, then from the
// cache (what a node does for content it has seen before).
void BM_EndUserLicense(benchmark::State& state) { EndUserLicense(state, *TheWorld().licensing); }
BENCHMARK(BM_EndUserLicense)->UseRealTime();

// No cache: every request parses, verifies and decrypts (first time).
void BM_EndUserLicenseFirstTime(benchmark::State& state) {
  EndUserLicense(state, *TheWorld().uncached);
}
BENCHMARK(BM_EndUserLicenseFirstTime)->UseRealTime();

// Audit entries past keep_days (400) until `want` of them wait: a busy
// cluster's year. SQLite's own SQL: the bench's store is SQLite.
void FillOldAuditEntries(store::Database& db, int64_t want) {
  const int64_t old_at = (DefaultClock().Now() - Days(500)).time_since_epoch().count();
  auto have = db.Query("SELECT COUNT(*) FROM license_audit WHERE at < $1", {old_at + 1});
  const int64_t missing = want - (have.ok() ? (*have)[0].Int(0) : 0);
  if (missing <= 0) return;
  (void)db.Execute(
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) INSERT INTO "
      "license_audit (cluster, at, user_name, kind, content_id, result, detail, node, address, "
      "owner) SELECT 'BENCH', $2, 'user' || (i % 5000), 'use', 'content-' || (i % 20000), "
      "'AccessGranted', 'VIEW', 'node-a', '10.0.0.1', 'alice' FROM n",
      {missing, old_at});
}

// First-time use licenses with a million audit entries past keep_days in
// the store: 20000 of them without a retention pass (0), and as many as
// fit in a whole pass that deletes the million (1; audit_retention.h:
// batches of 5000, 20 ms apart, under the lease), and beside a control
// thread that only streams memory in the pass's rhythm (2: what any
// memory-heavy neighbour costs on this machine). One iteration each; the
// counters say it: `us_per_license` (wall time / licenses, the number to
// compare), `licenses` and `deleted`. Licensing should not see the pass.
void BM_EndUserLicenseFirstTimeDuringRetention(benchmark::State& state) {
  World& w = TheWorld();
  FillOldAuditEntries(*w.db, 1000000);
  auto pl =
      w.licensing->Publish("BENCH", {"alice", {}, "local"}, PublishRequest(), "https://x/my/v2");
  if (!pl.ok()) {
    state.SkipWithError(pl.status().ToString().c_str());
    return;
  }
  const licensing::EndUserLicenseRequest request{pl->publishing_license};
  const accounts::Identity bob{"bob", {}, "local"};
  const bool during = state.range(0) != 0;
  for (auto _ : state) {
    std::atomic<bool> done{!during};
    licensing::RetentionPass pass;
    std::thread retention;
    if (state.range(0) == 1) {
      retention = std::thread([&] {
        licensing::AuditRetention r(*w.db, DefaultClock(), "bench", {});
        auto p = r.RunPass();
        if (p.ok()) pass = *p;
        done = true;
      });
    } else if (state.range(0) == 2) {
      // The control: no store work, only memory traffic of the pass's
      // shape (work, then a pause as long) over a 512 MiB buffer, for 40 s.
      retention = std::thread([&] {
        std::vector<char> from(256 << 20, 'a'), to(256 << 20);
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(40);
        size_t at = 0;
        while (std::chrono::steady_clock::now() < until) {
          const auto started = std::chrono::steady_clock::now();
          for (int i = 0; i < 64; ++i, at = (at + (1 << 20)) % from.size()) {
            std::memcpy(to.data() + at, from.data() + at, 1 << 20);
          }
          std::this_thread::sleep_for(std::chrono::steady_clock::now() - started);
        }
        benchmark::DoNotOptimize(to.data());
        done = true;
      });
    }
    int64_t licenses = 0;
    const auto start = std::chrono::steady_clock::now();
    while (licenses < 20000 || !done) {
      auto ul = w.uncached->EndUserLicense("BENCH", bob, request);
      if (!ul.ok()) state.SkipWithError(ul.status().ToString().c_str());
      ++licenses;
    }
    const std::chrono::duration<double, std::micro> took = std::chrono::steady_clock::now() - start;
    if (retention.joinable()) retention.join();
    state.counters["us_per_license"] = took.count() / static_cast<double>(licenses);
    state.counters["licenses"] = static_cast<double>(licenses);
    state.counters["deleted"] = static_cast<double>(pass.deleted);
  }
}
BENCHMARK(BM_EndUserLicenseFirstTimeDuringRetention)
    ->Arg(0)
    ->Arg(1)
    ->Arg(2)
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kSecond);

}  // namespace
}  // namespace openrms

BENCHMARK_MAIN();
