#include "tttlab/studies/embed_texts.hpp"

#include <chrono>
#include <map>

#include <fmt/format.h>

#include "tttlab/core/atomic_file.hpp"
#include "tttlab/core/device.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/core/output_folder.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/core/versions.hpp"
#include "tttlab/data/builtin.hpp"
#include "tttlab/encoder/sentence_encoder.hpp"
#include "tttlab/studies/lm_studies.hpp"

namespace tttlab::studies {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

Split take_rows(const torch::Tensor& features, const std::vector<int64_t>& labels, const std::vector<int64_t>& rows) {
  const auto index = torch::tensor(rows, torch::kLong);
  std::vector<int64_t> y;
  y.reserve(rows.size());
  for (const int64_t r : rows) y.push_back(labels[static_cast<size_t>(r)]);
  return {features.index_select(0, index).contiguous(), torch::tensor(y, torch::kLong)};
}

json class_counts(const std::vector<int64_t>& labels, const std::vector<int64_t>& rows,
                  const std::vector<std::string>& names) {
  std::vector<int64_t> counts(names.size(), 0);
  for (const int64_t r : rows) ++counts[static_cast<size_t>(labels[static_cast<size_t>(r)])];
  json j = json::object();
  for (size_t c = 0; c < names.size(); ++c) j[names[c]] = counts[c];
  return j;
}

}  // namespace

EmbedResult embed_texts(const EmbedConfig& cfg) {
  require_input(!cfg.out.empty(), "--out is required (the embedding folder to write)");
  require_output_folder(cfg.out);
  require_input(cfg.batch_size >= 1, "--batch-size {} (expected >= 1)", cfg.batch_size);
  const torch::ScalarType dtype = parse_model_dtype(cfg.dtype);
  const torch::Device device = resolve_device(cfg.device);

  const TextCorpus corpus = read_text_corpus(cfg.input, cfg.corpus);
  const TextSplitRows rows = split_text_corpus(corpus, cfg.val_fraction, cfg.test_fraction, cfg.seed);

  auto encoder = encoder::SentenceEncoder::load(cfg.model, {device, dtype, cfg.batch_size});
  const auto t0 = std::chrono::steady_clock::now();
  const auto ids = encoder.tokenize_all(
      corpus.texts, [&](size_t i) { return fmt::format("{} line {}", corpus.source, corpus.line_numbers[i]); });
  int64_t tokens = 0, truncated = 0;
  const int64_t max_len = encoder.pipeline().max_seq_length;
  for (const auto& row : ids) {
    tokens += static_cast<int64_t>(row.size());
    truncated += static_cast<int64_t>(row.size()) == max_len;  // at the limit: (possibly) cut
  }
  const double tokenize_seconds = seconds_since(t0);
  torch::Tensor features;
  {
    ProgressBar bar("embed", static_cast<int64_t>(ids.size()), "texts");
    features = encoder.encode_ids(ids, [&](int64_t n) { bar.advance(n); });
    bar.finish();
  }
  if (device.is_cuda()) torch::cuda::synchronize();
  const double seconds = seconds_since(t0);

  Dataset data;
  data.name = "embed:" + cfg.input;
  data.train = take_rows(features, corpus.labels, rows.train);
  data.test = take_rows(features, corpus.labels, rows.test);
  if (!rows.val.empty()) data.val = take_rows(features, corpus.labels, rows.val);
  data.num_classes = static_cast<int64_t>(corpus.class_names.size());
  write_embedding_folder(cfg.out, data);

  EmbedResult r;
  r.texts = static_cast<int64_t>(corpus.texts.size());
  r.seconds = seconds;
  r.sentences_per_second = static_cast<double>(r.texts) / std::max(seconds, 1e-9);
  const auto& p = encoder.pipeline();
  const auto& c = encoder.config();
  r.summary = {
      {"model", {{"folder", cfg.model},
                 {"architecture", "BertModel"},
                 {"layers", c.num_hidden_layers},
                 {"hidden_size", c.hidden_size},
                 {"vocab_size", c.vocab_size},
                 {"pooling", encoder::pooling_name(p.pooling)},
                 {"normalize", p.normalize},
                 {"max_seq_length", p.max_seq_length}}},
      {"input", {{"file", cfg.input},
                 {"texts", r.texts},
                 {"text_field", cfg.corpus.text_field},
                 {"label_field", cfg.corpus.label_field},
                 {"labels_file", cfg.corpus.labels_file.string()},
                 {"limit", cfg.corpus.limit}}},
      {"classes", corpus.class_names},
      {"split", {{"rule", rows.rule},
                 {"train", rows.train.size()},
                 {"val", rows.val.size()},
                 {"test", rows.test.size()},
                 {"train_per_class", class_counts(corpus.labels, rows.train, corpus.class_names)},
                 {"test_per_class", class_counts(corpus.labels, rows.test, corpus.class_names)}}},
      {"tokens", {{"total", tokens},
                  {"mean_per_text", static_cast<double>(tokens) / static_cast<double>(r.texts)},
                  {"texts_at_max_length", truncated}}},
      {"compute", {{"device", describe_device(device)},
                   {"dtype", cfg.dtype},
                   {"batch_size", cfg.batch_size},
                   {"tokenize_seconds", tokenize_seconds},
                   {"seconds", seconds},
                   {"sentences_per_second", r.sentences_per_second}}},
      {"versions", library_versions()},
      {"machine", machine_facts()}};
  write_text_atomically(fs::path(cfg.out) / "embed.json", r.summary.dump(2) + "\n");
  return r;
}

}  // namespace tttlab::studies
