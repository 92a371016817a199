#include "tttlab/data/text_corpus.hpp"

#include <algorithm>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "tttlab/core/error.hpp"
#include "tttlab/core/printable.hpp"
#include "tttlab/data/subsample.hpp"
#include "tttlab/encoder/wordpiece_tokenizer.hpp"

namespace tttlab {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::vector<std::string> read_lines(const fs::path& path, const char* what) {
  std::error_code ec;
  require_input(fs::exists(path, ec), "{}: no such file (expected {})", path.string(), what);
  require_input(fs::is_regular_file(path, ec), "{}: not a file (expected {})", path.string(), what);
  std::ifstream in(path, std::ios::binary);
  require_input(in.good(), "{}: cannot open", path.string());
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
  }
  // A final newline does not start another (empty) line.
  return lines;
}

bool is_jsonl(const fs::path& path) {
  const std::string ext = path.extension().string();
  return ext == ".jsonl" || ext == ".ndjson" || ext == ".json";
}

std::string normalise_split(const std::string& s) {
  if (s == "train") return "train";
  if (s == "val" || s == "valid" || s == "validation" || s == "dev") return "val";
  if (s == "test") return "test";
  return "";
}

// Class ids: integer labels by value, string labels by name.
void assign_class_ids(TextCorpus& corpus, const std::vector<std::string>& names, bool all_integers) {
  std::vector<std::string> classes(names);
  std::sort(classes.begin(), classes.end(), [&](const std::string& a, const std::string& b) {
    return all_integers ? std::stoll(a) < std::stoll(b) : a < b;
  });
  classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
  std::map<std::string, int64_t> id;
  for (size_t i = 0; i < classes.size(); ++i) id[classes[i]] = static_cast<int64_t>(i);
  corpus.labels.clear();
  for (const auto& n : names) corpus.labels.push_back(id[n]);
  corpus.class_names = std::move(classes);
}

bool is_integer_text(const std::string& s) {
  if (s.empty() || s.size() > 18) return false;
  size_t i = s[0] == '-' ? 1 : 0;
  if (i == s.size()) return false;
  return std::all_of(s.begin() + static_cast<std::ptrdiff_t>(i), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

TextCorpus read_text_corpus(const fs::path& input, const TextCorpusOptions& options) {
  TextCorpus corpus;
  corpus.source = input.string();
  const std::vector<std::string> lines = read_lines(input, "a .jsonl or .txt file of texts");
  std::vector<std::string> label_names;
  bool all_integers = true;
  auto take_label = [&](std::string name, const std::string& where) {
    require_input(!name.empty(), "{}: empty label", where);
    require_input(encoder::is_valid_utf8(name), "{}: the label is not valid UTF-8", where);
    all_integers = all_integers && is_integer_text(name);
    label_names.push_back(std::move(name));
  };
  const bool jsonl = is_jsonl(input);
  std::vector<std::string> label_lines;
  if (!jsonl) {
    require_input(!options.labels_file.empty(),
                  "{}: a plain text file needs --labels FILE (one label per line), or use a .jsonl file with a label "
                  "field",
                  corpus.source);
    label_lines = read_lines(options.labels_file, "a file of labels, one per line");
  }
  int64_t with_split = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (options.limit > 0 && static_cast<int64_t>(corpus.texts.size()) >= options.limit) break;
    const std::string where = fmt::format("{} line {}", corpus.source, i + 1);
    const std::string& line = lines[i];
    if (jsonl) {
      if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank lines between records
      require_input(encoder::is_valid_utf8(line), "{}: not valid UTF-8", where);
      json j;
      try {
        j = json::parse(line);
      } catch (const json::exception& e) {
        throw_input_error("{}: not valid JSON ({})", where, printable(e.what()));
      }
      require_input(j.is_object(), "{}: expected a JSON object", where);
      const auto text = j.find(options.text_field);
      require_input(text != j.end() && text->is_string(), "{}: no string field '{}'", where, options.text_field);
      require_input(!text->get<std::string>().empty(), "{}: empty text", where);
      const auto label = j.find(options.label_field);
      require_input(label != j.end() && (label->is_string() || label->is_number_integer()),
                    "{}: no label field '{}' (a string or an integer)", where, options.label_field);
      take_label(label->is_string() ? label->get<std::string>() : std::to_string(label->get<int64_t>()), where);
      const auto split = j.find(options.split_field);
      if (split != j.end() && !split->is_null()) {
        const std::string s = split->is_string() ? normalise_split(split->get<std::string>()) : "";
        require_input(!s.empty(), "{}: split {} is not train, val or test", where, printable(split->dump()));
        corpus.splits.push_back(s);
        ++with_split;
      } else {
        corpus.splits.push_back("");
      }
      corpus.texts.push_back(text->get<std::string>());
    } else {
      require_input(encoder::is_valid_utf8(line), "{}: not valid UTF-8", where);
      require_input(!line.empty(), "{}: empty text (every line must hold one text)", where);
      require_input(i < label_lines.size(), "{}: {} has only {} labels for {} texts", where,
                    options.labels_file.string(), label_lines.size(), lines.size());
      take_label(label_lines[i], fmt::format("{} line {}", options.labels_file.string(), i + 1));
      corpus.texts.push_back(line);
    }
    corpus.line_numbers.push_back(static_cast<int64_t>(i + 1));
  }
  require_input(!corpus.texts.empty(), "{}: no texts", corpus.source);
  if (!jsonl && options.limit <= 0) {
    require_input(label_lines.size() == lines.size(), "{}: {} labels for {} texts in {} (expected one per line)",
                  options.labels_file.string(), label_lines.size(), lines.size(), corpus.source);
  }
  if (with_split == 0) {
    corpus.splits.clear();
  } else {
    require_input(with_split == static_cast<int64_t>(corpus.texts.size()),
                  "{}: {} of {} lines have a '{}' field (expected all or none)", corpus.source, with_split,
                  corpus.texts.size(), options.split_field);
  }
  assign_class_ids(corpus, label_names, all_integers);
  require_input(static_cast<int64_t>(corpus.class_names.size()) >= options.min_classes,
                "{}: only one class ({}); classification needs at least two", corpus.source,
                printable(corpus.class_names.front()));
  return corpus;
}

TextSplitRows split_text_corpus(const TextCorpus& corpus, double val_fraction, double test_fraction, uint64_t seed) {
  TextSplitRows rows;
  const auto n = static_cast<int64_t>(corpus.texts.size());
  if (!corpus.splits.empty()) {
    for (int64_t i = 0; i < n; ++i) {
      const auto& s = corpus.splits[static_cast<size_t>(i)];
      (s == "train" ? rows.train : s == "val" ? rows.val : rows.test).push_back(i);
    }
    require_input(!rows.train.empty() && !rows.test.empty(), "{}: the file's split has {} train and {} test texts "
                  "(expected both non-empty)", corpus.source, rows.train.size(), rows.test.size());
    rows.rule = "the file's split field";
    return rows;
  }
  require_input(test_fraction > 0 && test_fraction <= 0.5, "--test-fraction {} (expected in (0, 0.5])", test_fraction);
  require_input(val_fraction >= 0 && val_fraction <= 0.5, "--val-fraction {} (expected in [0, 0.5])", val_fraction);
  require_input(val_fraction + test_fraction < 1, "--val-fraction + --test-fraction must be below 1");
  const auto labels = torch::tensor(corpus.labels, torch::kLong);
  const auto C = static_cast<int64_t>(corpus.class_names.size());
  const HoldoutRows first = stratified_holdout_rows(labels, C, test_fraction, seed);
  auto to_vector = [](const torch::Tensor& t) {
    return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
  };
  rows.test = to_vector(first.holdout);
  std::vector<int64_t> rest = to_vector(first.keep);
  if (val_fraction > 0) {
    const auto rest_t = torch::tensor(rest, torch::kLong);
    const double within = std::min(0.5, val_fraction / (1.0 - test_fraction));
    const HoldoutRows second = stratified_holdout_rows(labels.index_select(0, rest_t), C, within, seed + 1);
    for (const int64_t r : to_vector(second.keep)) rows.train.push_back(rest[static_cast<size_t>(r)]);
    for (const int64_t r : to_vector(second.holdout)) rows.val.push_back(rest[static_cast<size_t>(r)]);
  } else {
    rows.train = rest;
  }
  rows.rule = fmt::format("stratified by class, seed {}: {:.0f}% test, {:.0f}% val, the rest train", seed,
                          100 * test_fraction, 100 * val_fraction);
  return rows;
}

}  // namespace tttlab
