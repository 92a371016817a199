#include "tttlab/encoder/sentence_encoder.hpp"

#include <algorithm>
#include <numeric>

#include <ATen/Parallel.h>
#include <unicode/locid.h>
#include <unicode/unistr.h>

#include "tttlab/core/error.hpp"
#include "tttlab/core/printable.hpp"
#include "tttlab/io/json_fields.hpp"

namespace tttlab::encoder {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

PoolingMode read_pooling_config(const fs::path& file) {
  const json j = read_json_file(file.string(), "pooling config");
  const std::string where = file.string();
  require_input(j.is_object(), "{}: expected a JSON object", where);
  auto flag = [&](const char* name) { return json_field_or<bool>(j, name, false, where); };
  for (const char* unsupported : {"pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens",
                                  "pooling_mode_lasttoken"}) {
    require_input(!flag(unsupported), "{}: {} is not supported (mean, cls or max pooling)", where, unsupported);
  }
  const bool mean = flag("pooling_mode_mean_tokens"), cls = flag("pooling_mode_cls_token"),
             max = flag("pooling_mode_max_tokens");
  require_input(int(mean) + int(cls) + int(max) == 1,
                "{}: exactly one of pooling_mode_mean_tokens, pooling_mode_cls_token, pooling_mode_max_tokens must be "
                "true (concatenated poolings are not supported)",
                where);
  const auto include_prompt = j.find("include_prompt");
  require_input(include_prompt == j.end() || include_prompt->is_null() || *include_prompt == true,
                "{}: include_prompt=false is not supported", where);
  return mean ? PoolingMode::Mean : cls ? PoolingMode::Cls : PoolingMode::Max;
}

// Lower case as Python's str.lower() (sentence_bert_config.json's do_lower_case): full mappings,
// final sigma in context; ICU's root-locale lower-casing does the same.
std::string lower_text(const std::string& text) {
  auto u = icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  u.toLower(icu::Locale::getRoot());
  std::string out;
  u.toUTF8String(out);
  return out;
}

}  // namespace

std::string pooling_name(PoolingMode mode) {
  switch (mode) {
    case PoolingMode::Mean:
      return "mean";
    case PoolingMode::Cls:
      return "cls";
    case PoolingMode::Max:
      return "max";
  }
  return "?";
}

SentencePipeline read_sentence_pipeline(const fs::path& dir, int64_t max_positions) {
  SentencePipeline p;
  p.max_seq_length = max_positions;
  const fs::path modules_file = dir / "modules.json";
  if (fs::exists(modules_file)) {
    const json modules = read_json_file(modules_file.string(), "sentence-transformers module list");
    const std::string where = modules_file.string();
    require_input(modules.is_array() && !modules.empty(), "{}: expected a non-empty list of modules", where);
    bool seen_transformer = false, seen_pooling = false;
    for (const auto& m : modules) {
      require_input(m.is_object(), "{}: module {} is not an object", where, printable(m.dump()));
      const std::string type = json_field_or<std::string>(m, "type", "", where);
      const std::string path = json_field_or<std::string>(m, "path", "", where);
      const std::string kind = type.substr(type.rfind('.') == std::string::npos ? 0 : type.rfind('.') + 1);
      if (kind == "Transformer") {
        require_input(!seen_transformer && path.empty(), "{}: expected one Transformer module at the folder's top",
                      where);
        seen_transformer = true;
      } else if (kind == "Pooling") {
        require_input(seen_transformer && !seen_pooling, "{}: Pooling must follow the Transformer, once", where);
        require_input(path.find("..") == std::string::npos, "{}: module path '{}' leaves the folder", where,
                      printable(path));
        p.pooling = read_pooling_config(dir / path / "config.json");
        seen_pooling = true;
      } else if (kind == "Normalize") {
        require_input(seen_pooling, "{}: Normalize must follow Pooling", where);
        p.normalize = true;
      } else {
        throw_input_error("{}: module type '{}' is not supported (Transformer, Pooling, Normalize)", where,
                          printable(type));
      }
    }
    require_input(seen_transformer && seen_pooling, "{}: expected a Transformer and a Pooling module", where);
  }
  const fs::path st_config = dir / "sentence_bert_config.json";
  if (fs::exists(st_config)) {
    const json j = read_json_file(st_config.string(), "sentence-transformers config");
    require_input(j.is_object(), "{}: expected a JSON object", st_config.string());
    const auto len = json_field_or<int64_t>(j, "max_seq_length", max_positions, st_config.string());
    require_input(len >= 3, "{}: max_seq_length={} (expected >= 3)", st_config.string(), len);
    p.max_seq_length = std::min(len, max_positions);
    p.lowercase_input = json_field_or<bool>(j, "do_lower_case", false, st_config.string());
  }
  return p;
}

torch::Tensor pool_sentences(const torch::Tensor& hidden, const torch::Tensor& attention_mask, PoolingMode mode,
                             bool normalize) {
  const auto h = hidden.to(torch::kFloat);
  const auto mask = attention_mask.to(torch::kFloat).unsqueeze(-1);  // [B, T, 1]
  torch::Tensor pooled;
  switch (mode) {
    case PoolingMode::Mean:
      pooled = (h * mask).sum(1) / mask.sum(1).clamp_min(1e-9);
      break;
    case PoolingMode::Cls:
      pooled = h.select(1, 0);
      break;
    case PoolingMode::Max:
      pooled = h.masked_fill(mask == 0, -1e9).amax(1);
      break;
  }
  if (normalize) pooled = pooled / pooled.norm(2, 1, /*keepdim=*/true).clamp_min(1e-12);
  return pooled;
}

SentenceEncoder::SentenceEncoder(BertModel model, WordPieceTokenizer tokenizer, SentencePipeline pipeline,
                                 SentenceEncoderOptions options)
    : model_(std::move(model)),
      tokenizer_(std::move(tokenizer)),
      pipeline_(pipeline),
      options_(options) {}

SentenceEncoder SentenceEncoder::load(const fs::path& dir, const SentenceEncoderOptions& options) {
  require_input(options.dtype == torch::kFloat || options.dtype == torch::kBFloat16,
                "sentence encoder: dtype must be float32 or bfloat16");
  require_input(options.batch_size >= 1, "sentence encoder: batch size {} (expected >= 1)", options.batch_size);
  require_input(fs::is_directory(dir), "{}: not a folder (expected a sentence-transformers model folder)",
                dir.string());
  auto tokenizer = WordPieceTokenizer::from_model_dir(dir);
  auto model = load_bert(dir, {options.dtype, options.device});
  require_input(tokenizer.vocab_size() <= model->config.vocab_size,
                "{}: the tokenizer has {} tokens but the model's vocabulary only {}", dir.string(),
                tokenizer.vocab_size(), model->config.vocab_size);
  auto pipeline = read_sentence_pipeline(dir, model->config.max_position_embeddings);
  return SentenceEncoder(std::move(model), std::move(tokenizer), pipeline, options);
}

std::vector<int64_t> SentenceEncoder::tokenize(const std::string& text, const std::string& what) const {
  require_input(!text.empty(), "{}: empty text (expected at least one character)", what);
  // The tokenizer checks the UTF-8 (lower_text would otherwise mend it silently, so check first).
  require_input(!pipeline_.lowercase_input || is_valid_utf8(text), "{}: not valid UTF-8", what);
  return tokenizer_.encode(pipeline_.lowercase_input ? lower_text(text) : text, pipeline_.max_seq_length, what);
}

torch::Tensor SentenceEncoder::encode(const std::vector<std::string>& texts, const std::function<void(int64_t)>& on_batch,
                                      const std::function<std::string(size_t)>& name_of) {
  // Tokenize everything first: bad input is reported before any model time is spent.
  return encode_ids(tokenize_all(texts, name_of), on_batch);
}

std::vector<std::vector<int64_t>> SentenceEncoder::tokenize_all(const std::vector<std::string>& texts,
                                                                const std::function<std::string(size_t)>& name_of) const {
  std::vector<std::vector<int64_t>> ids(texts.size());
  std::vector<std::string> errors(texts.size());
  auto name = [&](size_t i) { return name_of ? name_of(i) : fmt::format("text {}", i + 1); };
  // Long texts take milliseconds each; on a GPU a serial loop would cost as much as the model.
  at::parallel_for(0, static_cast<int64_t>(texts.size()), 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const auto u = static_cast<size_t>(i);
      try {
        ids[u] = tokenize(texts[u], name(u));
      } catch (const InputError& e) {
        errors[u] = e.what();
      }
    }
  });
  for (const auto& e : errors) {
    if (!e.empty()) throw InputError(e);
  }
  return ids;
}

torch::Tensor SentenceEncoder::encode_ids(const std::vector<std::vector<int64_t>>& ids,
                                          const std::function<void(int64_t)>& on_batch) {
  for (const auto& row : ids) {
    require_input(!row.empty() && static_cast<int64_t>(row.size()) <= model_->config.max_position_embeddings,
                  "sentence encoder: a token sequence of length {} (expected 1..{})", row.size(),
                  model_->config.max_position_embeddings);
    for (const int64_t id : row) {
      require_input(id >= 0 && id < model_->config.vocab_size, "sentence encoder: token id {} outside the vocabulary",
                    id);
    }
  }
  // Longest first, as sentence-transformers does: batches hold texts of similar length, so little
  // padding is computed (padding never changes a result: the mask removes it).
  std::vector<size_t> order(ids.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ids[a].size() > ids[b].size(); });

  const int64_t H = dim();
  torch::Tensor out = torch::empty({static_cast<int64_t>(ids.size()), H}, torch::kFloat);
  torch::NoGradGuard no_grad;
  const int64_t pad = tokenizer_.pad_id();
  for (size_t start = 0; start < order.size(); start += static_cast<size_t>(options_.batch_size)) {
    const size_t end = std::min(order.size(), start + static_cast<size_t>(options_.batch_size));
    const auto B = static_cast<int64_t>(end - start);
    const auto T = static_cast<int64_t>(ids[order[start]].size());
    auto batch_ids = torch::full({B, T}, pad, torch::kLong);
    auto batch_mask = torch::zeros({B, T}, torch::kLong);
    auto* id_ptr = batch_ids.data_ptr<int64_t>();
    auto* mask_ptr = batch_mask.data_ptr<int64_t>();
    for (int64_t b = 0; b < B; ++b) {
      const auto& row = ids[order[start + static_cast<size_t>(b)]];
      std::copy(row.begin(), row.end(), id_ptr + b * T);
      std::fill(mask_ptr + b * T, mask_ptr + b * T + static_cast<int64_t>(row.size()), 1);
    }
    const auto ids_dev = batch_ids.to(options_.device), mask_dev = batch_mask.to(options_.device);
    const auto hidden = model_->forward(ids_dev, mask_dev);
    const auto pooled = pool_sentences(hidden, mask_dev, pipeline_.pooling, pipeline_.normalize).to(torch::kCPU);
    std::vector<int64_t> rows(order.begin() + static_cast<std::ptrdiff_t>(start),
                              order.begin() + static_cast<std::ptrdiff_t>(end));
    out.index_copy_(0, torch::tensor(rows, torch::kLong), pooled);
    if (on_batch) on_batch(B);
  }
  return out;
}

}  // namespace tttlab::encoder
