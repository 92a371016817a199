#pragma once
// `tttlab embed`: labelled texts -> a sentence encoder's embeddings -> an embedding folder that every
// other command reads (train_/val_/test_features.npy + _labels.npy), with embed.json beside them: the
// model and its pipeline, class names by id, the split and its rule, token counts, and speed.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "tttlab/data/text_corpus.hpp"

namespace tttlab::studies {

struct EmbedConfig {
  std::string model;  // sentence-transformers folder (BERT checkpoint, tokenizer, modules.json, ...)
  std::string input;  // .jsonl, or .txt with corpus.labels_file
  TextCorpusOptions corpus;
  std::string out;
  double val_fraction = 0.1, test_fraction = 0.2;  // when the input has no split field
  uint64_t seed = 0;
  std::string device = "auto";
  std::string dtype = "float32";  // float32 | bfloat16
  int64_t batch_size = 64;
};

struct EmbedResult {
  nlohmann::json summary;  // embed.json's content
  int64_t texts = 0;
  double seconds = 0;  // tokenizing + encoding
  double sentences_per_second = 0;
};

// Checks the output folder and reads and tokenizes every text before the model runs; writes the
// folder's arrays (each atomically) and then embed.json.
EmbedResult embed_texts(const EmbedConfig& cfg);

}  // namespace tttlab::studies
