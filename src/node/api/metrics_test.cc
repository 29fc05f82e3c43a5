#include "node/api/metrics.h"

#include <gtest/gtest.h>

namespace openrms::node::api {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST(RouteOf, NamesAFixedSetOfRoutesNeverThePath) {
  EXPECT_EQ(RouteOf("/contoso/_wmcs/my/v2/enduserlicenses"), Route::kEndUserLicenses);
  EXPECT_EQ(RouteOf("/x/my/v2/publishinglicenses"), Route::kPublishingLicenses);
  EXPECT_EQ(RouteOf("/x/my/v2/templates"), Route::kTemplates);
  EXPECT_EQ(RouteOf("/x/my/v2/servicediscovery"), Route::kServiceDiscovery);
  EXPECT_EQ(RouteOf("/x/my/v2/clientlogs/debug"), Route::kClientLogs);
  EXPECT_EQ(RouteOf("/x/my/v2/clientperformancelogs"), Route::kClientLogs);
  EXPECT_EQ(RouteOf("/x/my/v2/anything/else"), Route::kMyV2Other);
  EXPECT_EQ(RouteOf("/x/_wmcs/certification"), Route::kCertification);
  EXPECT_EQ(RouteOf("/x/_wmcs/Certification/SubEnrollService.asmx"), Route::kSubEnroll);
  EXPECT_EQ(RouteOf("/oauth2/token"), Route::kToken);
  EXPECT_EQ(RouteOf("/admin"), Route::kAdmin);
  EXPECT_EQ(RouteOf("/admin/clusters/ROOT"), Route::kAdmin);
  EXPECT_EQ(RouteOf("/administrator"), Route::kOther);
  EXPECT_EQ(RouteOf("/metrics"), Route::kMetrics);
  EXPECT_EQ(RouteOf("/healthz"), Route::kHealthz);
  EXPECT_EQ(RouteOf("/"), Route::kOther);
  EXPECT_EQ(RouteName(Route::kToken), "oauth2_token");
}

TEST(RequestMetrics, CountsByRouteAndStatusWithACumulativeHistogram) {
  RequestMetrics m;
  m.Record(Route::kEndUserLicenses, 200, microseconds(400));         // <= 0.0005
  m.Record(Route::kEndUserLicenses, 200, microseconds(500));         // <= 0.0005 (le is inclusive)
  m.Record(Route::kEndUserLicenses, 401, milliseconds(3));           // <= 0.005
  m.Record(Route::kEndUserLicenses, 418, std::chrono::seconds(20));  // +Inf only
  m.Record(Route::kToken, 200, milliseconds(300));
  EXPECT_EQ(m.Count(Route::kEndUserLicenses, 200), 2u);
  EXPECT_EQ(m.Count(Route::kEndUserLicenses, 401), 1u);
  EXPECT_EQ(m.Count(Route::kEndUserLicenses, 418), 1u);  // counted as "other"
  const std::string text = m.Text();
  for (const char* line :
       {"# HELP openrms_http_requests_total Requests answered, by route and HTTP status.\n"
        "# TYPE openrms_http_requests_total counter\n",
        "openrms_http_requests_total{route=\"enduserlicenses\",status=\"200\"} 2\n",
        "openrms_http_requests_total{route=\"enduserlicenses\",status=\"401\"} 1\n",
        "openrms_http_requests_total{route=\"enduserlicenses\",status=\"other\"} 1\n",
        "openrms_http_requests_total{route=\"oauth2_token\",status=\"200\"} 1\n",
        "# TYPE openrms_http_request_duration_seconds histogram\n",
        "openrms_http_request_duration_seconds_bucket{route=\"enduserlicenses\",le=\"0.0005\"} 2\n"
        "openrms_http_request_duration_seconds_bucket{route=\"enduserlicenses\",le=\"0.001\"} 2\n"
        "openrms_http_request_duration_seconds_bucket{route=\"enduserlicenses\",le=\"0.0025\"} 2\n"
        "openrms_http_request_duration_seconds_bucket{route=\"enduserlicenses\",le=\"0.005\"} 3\n",
        "openrms_http_request_duration_seconds_bucket{route=\"enduserlicenses\",le=\"10\"} 3\n"
        "openrms_http_request_duration_seconds_bucket{route=\"enduserlicenses\",le=\"+Inf\"} 4\n"
        "openrms_http_request_duration_seconds_sum{route=\"enduserlicenses\"} 20.0039\n"
        "openrms_http_request_duration_seconds_count{route=\"enduserlicenses\"} 4\n",
        "openrms_http_request_duration_seconds_bucket{route=\"oauth2_token\",le=\"0.25\"} 0\n"
        "openrms_http_request_duration_seconds_bucket{route=\"oauth2_token\",le=\"0.5\"} 1\n",
        "openrms_http_request_duration_seconds_count{route=\"oauth2_token\"} 1\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\nnot in\n" << text;
  }
  // Routes without requests print nothing.
  EXPECT_EQ(text.find("route=\"templates\""), std::string::npos);
}

}  // namespace
}  // namespace openrms::node::api
