// Sentence-encoder throughput of `tttlab embed`'s engine: texts per second through tokenizing, the
// BERT forward pass (length-sorted batches, padded per batch) and pooling, best of several passes
// after a warm-up pass. bench/embed_pytorch.py times the same model, texts and batches with
// transformers; bench/embed_vs_pytorch.sh runs both in one call and prints the ratios.
//   bench_embed --model DIR --input FILE.jsonl|FILE.txt [--limit N] [--device cpu|cuda]
//               [--dtype float32|bfloat16] [--batch-size B] [--reps R]
// Prints one JSON object.
#include <chrono>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "tttlab/core/device.hpp"
#include "tttlab/data/text_corpus.hpp"
#include "tttlab/encoder/sentence_encoder.hpp"

using namespace tttlab;

int main(int argc, char** argv) {
  std::string model, input, device_name = "cpu", dtype = "float32";
  int64_t limit = 0, batch_size = 64, reps = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--model") model = value;
    else if (flag == "--input") input = value;
    else if (flag == "--device") device_name = value;
    else if (flag == "--dtype") dtype = value;
    else if (flag == "--limit") limit = std::stoll(value);
    else if (flag == "--batch-size") batch_size = std::stoll(value);
    else if (flag == "--reps") reps = std::stoll(value);
    else {
      fmt::print(stderr, "unknown flag {}\n", flag);
      return 2;
    }
  }
  if (model.empty() || input.empty()) {
    fmt::print(stderr, "usage: bench_embed --model DIR --input FILE [--limit N] [--device D] [--dtype T] "
                       "[--batch-size B] [--reps R]\n");
    return 2;
  }
  try {
    TextCorpusOptions options;
    options.limit = limit;
    const TextCorpus corpus = read_text_corpus(input, options);
    const torch::Device device = resolve_device(device_name);
    const auto type = dtype == "bfloat16" ? torch::kBFloat16 : torch::kFloat;
    auto enc = encoder::SentenceEncoder::load(model, {device, type, batch_size});
    auto sync = [&] {
      if (device.is_cuda()) torch::cuda::synchronize();
    };
    enc.encode(corpus.texts);  // warm-up: kernels, allocator, caches
    sync();
    double best = 1e300, tokenize_best = 1e300;
    int64_t tokens = 0;
    for (int64_t r = 0; r < reps; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      const auto ids = enc.tokenize_all(corpus.texts);
      tokens = 0;
      for (const auto& row : ids) tokens += static_cast<int64_t>(row.size());
      const auto t1 = std::chrono::steady_clock::now();
      enc.encode_ids(ids);
      sync();
      const auto t2 = std::chrono::steady_clock::now();
      best = std::min(best, std::chrono::duration<double>(t2 - t0).count());
      tokenize_best = std::min(tokenize_best, std::chrono::duration<double>(t1 - t0).count());
    }
    const auto n = static_cast<double>(corpus.texts.size());
    const nlohmann::json out = {{"engine", "tttlab"},
                                {"device", describe_device(device)},
                                {"dtype", dtype},
                                {"batch_size", batch_size},
                                {"texts", corpus.texts.size()},
                                {"tokens", tokens},
                                {"seconds", best},
                                {"tokenize_seconds", tokenize_best},
                                {"texts_per_second", n / best},
                                {"tokens_per_second", static_cast<double>(tokens) / best},
                                {"threads", torch::get_num_threads()}};
    fmt::print("{}\n", out.dump());
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 2;
  }
}
