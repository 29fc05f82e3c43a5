// Warnings, on stderr, about the files of a server or an enrollment service
// that group or others may read or change: left by an older OpenRMS or
// changed by hand since (OpenRMS makes them 0600 and their directories 0700).
#pragma once

#include <string>

namespace openrms::cli {

// The server directory, its keys directory, its TLS keys, the store URL and
// its SQLite database (with -wal, -shm and -journal).
void WarnAboutOpenServerFiles(const std::string& dir);
// The enrollment service's directory, its keys directory, its keys and its
// database.
void WarnAboutOpenAuthorityFiles(const std::string& dir);

}  // namespace openrms::cli
