#pragma once
// A sentence encoder as sentence-transformers defines one: a folder with a BERT checkpoint and its
// tokenizer, modules.json (Transformer -> Pooling [-> Normalize]), the pooling's config.json and
// sentence_bert_config.json (max_seq_length). encode() turns texts into one vector each:
//   tokenize (truncated to max_seq_length) -> sort by length -> batches padded to their longest
//   -> BERT -> pooling over the attention mask (mean, [CLS] or max) -> L2 normalisation if asked
//   -> rows back in input order, float32 on the CPU.
// A folder without modules.json gets mean pooling and no normalisation (sentence-transformers'
// fallback for a plain transformers checkpoint). A module or pooling mode other than these is an
// InputError naming the file.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "tttlab/encoder/bert_model.hpp"
#include "tttlab/encoder/wordpiece_tokenizer.hpp"

namespace tttlab::encoder {

enum class PoolingMode { Mean, Cls, Max };

struct SentencePipeline {
  PoolingMode pooling = PoolingMode::Mean;
  bool normalize = false;
  int64_t max_seq_length = 0;  // tokens including [CLS] and [SEP]
  bool lowercase_input = false;  // sentence_bert_config.json's do_lower_case
};

// modules.json, the pooling config and sentence_bert_config.json of a model folder; `max_positions`
// bounds max_seq_length (the model's max_position_embeddings).
SentencePipeline read_sentence_pipeline(const std::filesystem::path& dir, int64_t max_positions);

std::string pooling_name(PoolingMode mode);

// Pools hidden [B, T, H] over attention_mask [B, T] (1 = token) as sentence-transformers' Pooling
// does (mean: sum / max(count, 1e-9); max: padding set to -1e9 first), then L2-normalises when asked
// (x / max(|x|, 1e-12)). Computed in float32; returns float32 [B, H].
torch::Tensor pool_sentences(const torch::Tensor& hidden, const torch::Tensor& attention_mask, PoolingMode mode,
                             bool normalize);

struct SentenceEncoderOptions {
  torch::Device device = torch::kCPU;
  torch::ScalarType dtype = torch::kFloat;  // float32 or bfloat16
  int64_t batch_size = 64;
};

class SentenceEncoder {
 public:
  static SentenceEncoder load(const std::filesystem::path& dir, const SentenceEncoderOptions& options = {});

  // Token ids of one text as encode() feeds them to the model. An empty text or one that is not
  // valid UTF-8 is an InputError naming `what`.
  std::vector<int64_t> tokenize(const std::string& text, const std::string& what = "text") const;

  // [N, H] float32 on the CPU, rows in the order of `texts`. `on_batch(n)` is called after each
  // batch with the number of texts it held (progress). Texts are named "text i" in errors, or by
  // `name_of(i)` when given. Every text is tokenized before the model runs, so bad input stops
  // the work before it starts.
  torch::Tensor encode(const std::vector<std::string>& texts, const std::function<void(int64_t)>& on_batch = {},
                       const std::function<std::string(size_t)>& name_of = {});
  // tokenize() of every text, spread over LibTorch's threads (the tokenizer is read-only). The
  // first bad text in input order is the InputError, as a serial loop would report it.
  std::vector<std::vector<int64_t>> tokenize_all(const std::vector<std::string>& texts,
                                                 const std::function<std::string(size_t)>& name_of = {}) const;
  // The model part of encode(), on token ids from tokenize().
  torch::Tensor encode_ids(const std::vector<std::vector<int64_t>>& ids,
                           const std::function<void(int64_t)>& on_batch = {});

  int64_t dim() const { return model_->config.hidden_size; }
  const SentencePipeline& pipeline() const { return pipeline_; }
  const BertConfig& config() const { return model_->config; }
  const WordPieceTokenizer& tokenizer() const { return tokenizer_; }
  BertModel& model() { return model_; }
  const SentenceEncoderOptions& options() const { return options_; }

 private:
  SentenceEncoder(BertModel model, WordPieceTokenizer tokenizer, SentencePipeline pipeline,
                  SentenceEncoderOptions options);
  BertModel model_;
  WordPieceTokenizer tokenizer_;
  SentencePipeline pipeline_;
  SentenceEncoderOptions options_;
};

}  // namespace tttlab::encoder
