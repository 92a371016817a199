#include "tttlab/lm/added_tokens.hpp"

#include <algorithm>
#include <cctype>

#include "tttlab/core/error.hpp"
#include "tttlab/core/printable.hpp"

namespace tttlab::lm {

using nlohmann::json;

namespace {

// An integer id in [0, max_id). Checked before get<int64_t>(), which casts floats (1e30: undefined).
bool valid_id(const json& id, int64_t max_id) {
  if (!id.is_number_integer()) return false;
  if (id.is_number_unsigned()) return id.get<uint64_t>() < static_cast<uint64_t>(max_id);
  return id.get<int64_t>() >= 0 && id.get<int64_t>() < max_id;
}

}  // namespace

std::vector<AddedToken> read_added_tokens(const json& added_json, int64_t max_id, const std::string& where) {
  std::vector<AddedToken> added;
  if (added_json.is_null()) return added;
  require_input(added_json.is_array(), "{}: 'added_tokens' must be a list", where);
  for (const auto& t : added_json) {
    require_input(t.is_object() && t.contains("id") && valid_id(t["id"], max_id),
                  "{}: added token {} has a bad id (expected an integer 0 <= id < {})", where, printable(t.dump()),
                  max_id);
    const auto content = t.find("content");
    require_input(content != t.end() && content->is_string() && !content->get<std::string>().empty(),
                  "{}: added token {} has no content", where, printable(t.dump()));
    auto flag = [&](const char* name) {
      const auto it = t.find(name);
      return it != t.end() && it->is_boolean() && it->get<bool>();
    };
    added.push_back({t["id"].get<int64_t>(), content->get<std::string>(), flag("special"), flag("lstrip"),
                     flag("rstrip")});
  }
  // Longest first, so that at one position the longest added token wins.
  std::stable_sort(added.begin(), added.end(),
                   [](const AddedToken& x, const AddedToken& y) { return x.content.size() > y.content.size(); });
  return added;
}

std::vector<TextSegment> split_on_added_tokens(const std::string& text, const std::vector<AddedToken>& longest_first) {
  std::vector<TextSegment> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t best_at = std::string::npos;
    const AddedToken* best = nullptr;
    for (const auto& a : longest_first) {
      const size_t at = text.find(a.content, pos);
      if (at != std::string::npos && (best_at == std::string::npos || at < best_at)) best_at = at, best = &a;
    }
    if (!best) break;
    std::string before = text.substr(pos, best_at - pos);
    if (best->lstrip) {
      while (!before.empty() && std::isspace(static_cast<unsigned char>(before.back()))) before.pop_back();
    }
    if (!before.empty()) out.push_back({std::move(before), -1});
    out.push_back({"", best->id});
    pos = best_at + best->content.size();
    if (best->rstrip) {
      while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
    }
  }
  if (pos < text.size()) out.push_back({text.substr(pos), -1});
  return out;
}

}  // namespace tttlab::lm
