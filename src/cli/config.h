// Where the CLI finds its server and key.
//
// The login file is $XDG_CONFIG_HOME/nil/config.toml (default ~/.config/nil/config.toml), mode
// 0600 in a 0700 directory, holding `url` and `api_key`. Precedence: --url, then NIL_URL, then the
// file, then http://127.0.0.1:8080; NIL_API_KEY, then the file.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "common/expected.h"

namespace nil::cli {

inline constexpr const char* kDefaultUrl = "http://127.0.0.1:8080";

struct Login {
  std::string url;
  std::string api_key;
};

std::filesystem::path config_path();

// The stored login; an absent file is an empty Login, an unreadable or malformed one an error.
Expected<Login> load_login();
// Writes the file atomically with mode 0600 (the key is a credential).
Expected<void> save_login(const Login& login);

// The effective server and key for this run.
Expected<Login> resolve_login(const std::optional<std::string>& url_flag);

// An http:// or https:// URL without a trailing slash; anything else is a usage error.
Expected<std::string> normalize_url(std::string url);

}  // namespace nil::cli
