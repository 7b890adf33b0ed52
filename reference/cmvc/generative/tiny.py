"""Tiny randomly initialised models for tests, benchmarks and smoke tests: (a few thousand parameters) built from configs, saved with the
libraries' own ``save_pretrained`` so that the real loading code runs on them."""
import json
from pathlib import Path

import torch


def tiny_clip_tokenizer(path: Path):
    from transformers import CLIPTokenizer

    chars = "abcdefghijklmnopqrstuvwxyz.,"
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in chars:
        vocab[c] = len(vocab)
        vocab[c + "</w>"] = len(vocab)
    path.mkdir(parents=True, exist_ok=True)
    (path / "vocab.json").write_text(json.dumps(vocab))
    (path / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer(str(path / "vocab.json"), str(path / "merges.txt"), model_max_length=16)


def tiny_text_encoder():
    from transformers import CLIPTextConfig, CLIPTextModel

    return CLIPTextModel(CLIPTextConfig(bos_token_id=0, eos_token_id=1, hidden_size=16, intermediate_size=32,
                                        num_attention_heads=2, num_hidden_layers=1, pad_token_id=1, vocab_size=64,
                                        max_position_embeddings=16, projection_dim=16))


def tiny_vae():
    from diffusers import AutoencoderKL

    return AutoencoderKL(block_out_channels=[8, 16], in_channels=3, out_channels=3, latent_channels=4,
                         down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                         norm_num_groups=4, sample_size=32)


def tiny_scheduler():
    from diffusers import DDIMScheduler

    return DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                         set_alpha_to_one=False)


def tiny_sd(path: Path) -> Path:
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(block_out_channels=(8, 16), layers_per_block=1, sample_size=16, in_channels=4,
                                out_channels=4, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=16,
                                attention_head_dim=2, norm_num_groups=4)
    sched = tiny_scheduler()
    pipe = StableDiffusionPipeline(vae=tiny_vae(), text_encoder=tiny_text_encoder(),
                                   tokenizer=tiny_clip_tokenizer(path / "_tok"), unet=unet, scheduler=sched,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(path / "sd")
    return path / "sd"


def tiny_t2v(path: Path) -> Path:
    from diffusers import TextToVideoSDPipeline, UNet3DConditionModel

    torch.manual_seed(0)
    unet = UNet3DConditionModel(block_out_channels=(8, 16), layers_per_block=1, sample_size=16, in_channels=4,
                                out_channels=4, down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
                                up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"), cross_attention_dim=16,
                                attention_head_dim=4, norm_num_groups=4)
    sched = tiny_scheduler()
    pipe = TextToVideoSDPipeline(vae=tiny_vae(), text_encoder=tiny_text_encoder(),
                                 tokenizer=tiny_clip_tokenizer(path / "_tok2"), unet=unet, scheduler=sched)
    pipe.save_pretrained(path / "t2v")
    return path / "t2v"


def tiny_captioner(path: Path) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast, ViTConfig, ViTImageProcessor,
                              ViTModel, VisionEncoderDecoderModel)

    torch.manual_seed(0)
    words = ["[PAD]", "[BOS]", "[EOS]", "[UNK]", "a", "dog", "runs", "on", "the", "beach", "car", "red", "man", "walks"]
    tk = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="[BOS]", eos_token="[EOS]", pad_token="[PAD]",
                                  unk_token="[UNK]")
    enc = ViTModel(ViTConfig(image_size=32, patch_size=8, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                             intermediate_size=32))
    dec = GPT2LMHeadModel(GPT2Config(n_embd=16, n_layer=1, n_head=2, vocab_size=len(words), n_positions=32,
                                     add_cross_attention=True, bos_token_id=1, eos_token_id=2, pad_token_id=0))
    model = VisionEncoderDecoderModel(encoder=enc, decoder=dec)
    model.config.decoder_start_token_id, model.config.pad_token_id, model.config.eos_token_id = 1, 0, 2
    model.generation_config.decoder_start_token_id = 1
    model.generation_config.pad_token_id = 0
    model.generation_config.eos_token_id = 2
    out = path / "captioner"
    model.save_pretrained(out)
    tok.save_pretrained(out)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(out)
    return out


def tiny_open_clip(path: Path) -> tuple[str, str]:
    import open_clip

    cfg = {"embed_dim": 16, "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
           "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
    path.mkdir(parents=True, exist_ok=True)
    conf = path / "tiny-clip.json"
    conf.write_text(json.dumps(cfg))
    open_clip.add_model_config(str(conf))
    torch.manual_seed(0)
    model = open_clip.create_model("tiny-clip")
    ckpt = path / "tiny-clip.pt"
    torch.save(model.state_dict(), ckpt)
    return str(conf), str(ckpt)
