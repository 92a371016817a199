// Language-model engine throughput: tokens per second of the forward pass (no gradient) and of a
// LoRA step (forward, backward through the frozen model into the adapters, clipping, Adam), on a
// randomly initialised Qwen2 of a given shape.
//   bench_lm [--shape tiny|qwen2.5-0.5b] [--device cpu|cuda] [--dtype float32|bfloat16] [--tokens T]
//            [--reps R] [--rank 64]
#include <chrono>
#include <cstring>
#include <string>

#include <ATen/Context.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include "tttlab/core/device.hpp"
#include "tttlab/lm/lora.hpp"
#include "tttlab/lm/decoder_model.hpp"

using namespace tttlab;
using namespace tttlab::lm;

namespace {

DecoderConfig shape_config(const std::string& shape) {
  DecoderConfig c;
  if (shape == "qwen2.5-0.5b") {  // Qwen2.5-0.5B's config.json
    c.vocab_size = 151936, c.hidden_size = 896, c.intermediate_size = 4864, c.num_hidden_layers = 24;
    c.num_attention_heads = 14, c.num_key_value_heads = 2, c.rope_theta = 1e6, c.tie_word_embeddings = true;
  } else if (shape == "tiny") {
    c.vocab_size = 1216, c.hidden_size = 64, c.intermediate_size = 160, c.num_hidden_layers = 3;
    c.num_attention_heads = 4, c.num_key_value_heads = 2, c.tie_word_embeddings = true;
  } else {
    throw std::invalid_argument("--shape tiny|qwen2.5-0.5b");
  }
  return c;
}

void sync(torch::Device d) {
  if (d.is_cuda()) torch::cuda::synchronize();
}

}  // namespace

int main(int argc, char** argv) {
  std::string shape = "tiny", device_name = "cpu", dtype = "float32";
  int64_t tokens = 512, reps = 3, rank = 64;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--shape")
      shape = value;
    else if (flag == "--device")
      device_name = value;
    else if (flag == "--dtype")
      dtype = value;
    else if (flag == "--tokens")
      tokens = std::stoll(value);
    else if (flag == "--reps")
      reps = std::stoll(value);
    else if (flag == "--rank")
      rank = std::stoll(value);
    else {
      fmt::print(stderr,
                 "usage: bench_lm [--shape tiny|qwen2.5-0.5b] [--device cpu|cuda] [--dtype float32|bfloat16] "
                 "[--tokens T] [--reps R] [--rank 64]\n");
      return 2;
    }
  }
  at::globalContext().setAllowTF32CuBLAS(false);
  const torch::Device device = resolve_device(device_name);
  const auto scalar = dtype == "bfloat16" ? torch::kBFloat16 : torch::kFloat;
  const DecoderConfig c = shape_config(shape);
  auto model = make_random_decoder(c, 0);
  model->to(device, scalar);
  model->eval();
  int64_t params = 0;
  for (const auto& p : model->parameters()) params += p.numel();
  const auto ids = torch::randint(c.vocab_size, {1, tokens}, torch::TensorOptions().dtype(torch::kLong).device(device));

  auto time_reps = [&](auto&& f) {
    f();  // warm-up
    sync(device);
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t r = 0; r < reps; ++r) f();
    sync(device);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / static_cast<double>(reps);
  };
  const double forward_s = time_reps([&] {
    torch::NoGradGuard no_grad;
    model->forward(ids);
  });

  LoraConfig lc;
  lc.rank = rank;
  add_lora(model, lc, 0);
  model->to(device, scalar);
  LoraTrainer trainer(model, LoraTrainConfig{});
  const double lora_s = time_reps([&] { trainer.step(ids); });
  const int64_t adapters = count_parameters(lora_parameters(model));

  fmt::print("{} ({} parameters, {} layers) on {}, {}, {} tokens per sequence, {} reps\n", shape, params,
             c.num_hidden_layers, describe_device(device), dtype, tokens, reps);
  fmt::print("  forward (no gradient):          {:10.1f} tokens/s  ({:.3f} s per sequence)\n", tokens / forward_s,
             forward_s);
  fmt::print("  LoRA step (rank {}, {} adapter parameters = {:.2f}%): {:10.1f} tokens/s  ({:.3f} s per step)\n", rank,
             adapters, 100.0 * adapters / params, tokens / lora_s, lora_s);
  return 0;
}
