// tttlab embed: labelled texts -> sentence-encoder embeddings -> an embedding folder
// (train_/val_/test_features.npy + labels, embed.json) that run, scale, reproduce and sae read.
#include <memory>

#include <fmt/format.h>

#include "commands.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/studies/embed_texts.hpp"

namespace tttlab::cli {

void add_embed_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "embed",
      "Embed labelled texts with a sentence encoder (a BERT-family sentence-transformers folder, e.g. "
      "all-MiniLM-L6-v2 from scripts/fetch-models) and write an embedding folder: train_/val_/test_features.npy, "
      "their _labels.npy and embed.json (class names by id, split, speed). Input: a .jsonl file (one object per line "
      "with a text and a label field, and optionally a split field train/val/test), or a .txt file of one text per "
      "line with --labels FILE. Without a split field the split is stratified and seeded.");
  struct Opts {
    studies::EmbedConfig cfg;
    std::string labels;
    int threads = 0;
    bool quiet = false;
  };
  auto o = std::make_shared<Opts>();
  auto& c = o->cfg;
  cmd->add_option("--model", c.model, "Sentence encoder folder (config.json, model.safetensors, tokenizer, modules.json)")
      ->required();
  cmd->add_option("--input", c.input, "Texts: .jsonl (objects with text and label fields) or .txt (one per line)")
      ->required();
  cmd->add_option("--labels", o->labels, "For a .txt input: a file with one label per line");
  cmd->add_option("--text-field", c.corpus.text_field, "JSONL field holding the text")->capture_default_str();
  cmd->add_option("--label-field", c.corpus.label_field, "JSONL field holding the label (a class name or integer)")
      ->capture_default_str();
  cmd->add_option("--split-field", c.corpus.split_field,
                  "JSONL field holding the split (train, val or test); used when every line has it")
      ->capture_default_str();
  cmd->add_option("--limit", c.corpus.limit, "Embed only the first N texts (0 = all; for quick trials)")
      ->capture_default_str();
  add_out_option(cmd, c.out, "Embedding folder to write")->required();
  cmd->add_option("--val-fraction", c.val_fraction, "Without a split field: share of the texts for val")
      ->capture_default_str();
  cmd->add_option("--test-fraction", c.test_fraction, "Without a split field: share of each class for test")
      ->capture_default_str();
  add_seed_option(cmd, c.seed, "Seed of the stratified split");
  add_device_option(cmd, c.device);
  cmd->add_option("--dtype", c.dtype, "Weights and activations: float32 or bfloat16")->capture_default_str();
  cmd->add_option("--batch-size", c.batch_size, "Texts per forward pass (sorted by length, padded per batch)")
      ->capture_default_str();
  add_threads_option(cmd, o->threads);
  add_quiet_flag(cmd, o->quiet);
  cmd->callback([o] {
    apply_threads(o->threads);
    if (o->quiet) set_progress_enabled(false);
    o->cfg.corpus.labels_file = o->labels;
    const auto r = studies::embed_texts(o->cfg);
    const auto& split = r.summary["split"];
    fmt::print("embedded {} texts ({} classes) in {:.1f} s: {:.1f} texts/s on {} ({})\n", r.texts,
               r.summary["classes"].size(), r.seconds, r.sentences_per_second,
               r.summary["compute"]["device"].get<std::string>(), o->cfg.dtype);
    fmt::print("split ({}): {} train, {} val, {} test\n", split["rule"].get<std::string>(),
               split["train"].get<int64_t>(), split["val"].get<int64_t>(), split["test"].get<int64_t>());
    fmt::print("wrote {} (embed.json, train_/val_/test_features.npy and labels)\n", o->cfg.out);
  });
}

}  // namespace tttlab::cli
