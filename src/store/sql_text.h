// What the store layer reads in SQL text before handing it to an engine.
// Internal to src/store.
#pragma once

#include <string_view>
#include <vector>

#include "base/status.h"

namespace openrms::store::internal {

struct SqlShape {
  std::vector<int> parameters;      // the distinct N of every $N, ascending
  bool several_statements = false;  // text after a ';' that is more than blanks
};

// Reads `sql` outside '...' literals, "..." names and -- and /* */
// comments. ($tag$ quoting is not recognised: the SQL here does not use it.)
SqlShape ScanSql(std::string_view sql);

// The common checks of both engines: every $N has a value (N <= values),
// and only a call that allows it holds several statements. kInternal
// otherwise: the calling code is wrong.
Result<SqlShape> CheckSql(std::string_view sql, size_t values, bool several_allowed);

}  // namespace openrms::store::internal
