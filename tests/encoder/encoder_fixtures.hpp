#pragma once
// Sentence-encoder folders for tests: a small random BERT with a hand-made WordPiece vocabulary, laid
// out as sentence-transformers saves a model, and the reference fixtures of tests/fixtures/bert (made
// by its make_fixtures.py with transformers, tokenizers and sentence-transformers).
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "test_paths.hpp"
#include "test_support.hpp"
#include "tttlab/encoder/bert_model.hpp"
#include "tttlab/encoder/wordpiece_tokenizer.hpp"

namespace tttlab::test {

inline std::filesystem::path bert_fixture(const std::string& name) {
  return std::filesystem::path(TTTLAB_SOURCE_DIR) / "tests" / "fixtures" / "bert" / name;
}

inline const std::vector<std::string>& bert_sentences() {
  static const auto s =
      nlohmann::json::parse(read_bytes(bert_fixture("sentences.json"))).get<std::vector<std::string>>();
  return s;
}

// {"max_length_tiny", "max_length_minilm", "cases": [{"i", "ids_tiny", "ids_tiny_full", "ids_minilm"}],
//  "hidden_debug": {"input_ids", "attention_mask"} (the batch behind tiny_hidden.npy)}
inline const nlohmann::json& bert_cases() {
  static const auto j = nlohmann::json::parse(read_bytes(bert_fixture("cases.json")));
  return j;
}

// Compares `tok`'s ids with the reference's `field` for every sentence; reports the first few
// mismatches with the text, the normalised text and both id lists.
inline void expect_reference_ids(const encoder::WordPieceTokenizer& tok, const char* field, int64_t max_length) {
  using nlohmann::json;
  const auto& sentences = bert_sentences();
  ASSERT_GE(sentences.size(), 1000u);
  ASSERT_EQ(bert_cases()["cases"].size(), sentences.size());
  int mismatches = 0;
  for (const auto& c : bert_cases()["cases"]) {
    const auto i = c["i"].get<size_t>();
    const auto expected = c[field].get<std::vector<int64_t>>();
    const auto ids = tok.encode(sentences[i], max_length);
    if (ids != expected && ++mismatches <= 5) {
      ADD_FAILURE() << field << " sentence " << i << ": " << json(sentences[i]).dump() << "\nnormalised "
                    << json(tok.normalize(sentences[i])).dump() << "\nours " << json(ids).dump() << "\nref  "
                    << json(expected).dump();
    }
  }
  EXPECT_EQ(mismatches, 0) << "of " << sentences.size() << " sentences";
}

// Where scripts/fetch-models puts the real all-MiniLM-L6-v2 (tests that need it skip without it).
inline std::filesystem::path minilm_dir() {
  return std::filesystem::path(TTTLAB_SOURCE_DIR) / "third_party" / "models" / "all-MiniLM-L6-v2";
}

inline void write_text(const std::filesystem::path& p, const std::string& text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

// Words of the hand-made vocabulary (after the five special tokens and the single characters).
inline std::vector<std::string> tiny_words() {
  return {"the", "cat", "dog", "sat", "on", "mat", "a", "good", "bad", "movie", "film", "##s", "##ing", "run",
          "fast", "slow", "and", "or", "not", "very", "cafe", "hello", "world", "news", "sport", "##ed"};
}

inline encoder::BertConfig tiny_bert_config(int64_t vocab) {
  encoder::BertConfig c;
  c.vocab_size = vocab;
  c.hidden_size = 32;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.intermediate_size = 64;
  c.max_position_embeddings = 64;
  return c;
}

struct TinyModelOptions {
  std::string pooling = "pooling_mode_mean_tokens";
  bool normalize = true;
  int64_t max_seq_length = 32;
  uint64_t seed = 1;
};

// dir/: config.json, model.safetensors, vocab.txt, modules.json, 1_Pooling/config.json,
// sentence_bert_config.json.
inline void write_tiny_sentence_model(const std::filesystem::path& dir, const TinyModelOptions& o = {}) {
  std::vector<std::string> vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  for (char c = 'a'; c <= 'z'; ++c) vocab.push_back(std::string(1, c));
  for (char c = 'a'; c <= 'z'; ++c) vocab.push_back("##" + std::string(1, c));
  for (const char* p : {".", ",", "!", "?", "'", "-"}) vocab.push_back(p);
  for (const auto& w : tiny_words()) vocab.push_back(w);
  std::string text;
  for (const auto& v : vocab) text += v + "\n";
  write_text(dir / "vocab.txt", text);
  auto model = encoder::make_random_bert(tiny_bert_config(static_cast<int64_t>(vocab.size())), o.seed);
  encoder::save_bert(dir, model);
  using nlohmann::json;
  json modules = json::array({{{"idx", 0}, {"name", "0"}, {"path", ""}, {"type", "sentence_transformers.models.Transformer"}},
                              {{"idx", 1}, {"name", "1"}, {"path", "1_Pooling"}, {"type", "sentence_transformers.models.Pooling"}}});
  if (o.normalize) {
    modules.push_back({{"idx", 2}, {"name", "2"}, {"path", "2_Normalize"}, {"type", "sentence_transformers.models.Normalize"}});
  }
  write_text(dir / "modules.json", modules.dump(2));
  json pooling = {{"word_embedding_dimension", 32},
                  {"pooling_mode_cls_token", false},
                  {"pooling_mode_mean_tokens", false},
                  {"pooling_mode_max_tokens", false},
                  {"pooling_mode_mean_sqrt_len_tokens", false}};
  pooling[o.pooling] = true;
  write_text(dir / "1_Pooling" / "config.json", pooling.dump(2));
  write_text(dir / "sentence_bert_config.json",
             json({{"max_seq_length", o.max_seq_length}, {"do_lower_case", false}}).dump(2));
}

}  // namespace tttlab::test
