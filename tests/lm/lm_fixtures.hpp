#pragma once
// The reference fixtures of tests/fixtures/lm (made by make_fixtures.py with transformers and tokenizers).
#include <cstdint>
#include <filesystem>
#include <string>

#include "test_paths.hpp"
#include "tttlab/lm/decoder_config.hpp"

namespace tttlab::test {

inline std::filesystem::path lm_fixture(const std::string& name) {
  return std::filesystem::path(TTTLAB_SOURCE_DIR) / "tests" / "fixtures" / "lm" / name;
}

// A small Qwen2 shape for tests: 2 layers, hidden 32, 4 query heads.
inline lm::DecoderConfig tiny_qwen2_config(int64_t vocab, int64_t kv_heads, bool tied, int64_t mlp = 48) {
  lm::DecoderConfig c;
  c.vocab_size = vocab;
  c.hidden_size = 32;
  c.intermediate_size = mlp;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = kv_heads;
  c.max_position_embeddings = 128;
  c.tie_word_embeddings = tied;
  return c;
}

}  // namespace tttlab::test
