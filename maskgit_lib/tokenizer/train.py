"""Training the tokenizer (phase ``vqgan``): the generator and discriminator steps, validation.

Each step is two updates. The **generator step** (encoder, quantizer, decoder) minimises
reconstruction + perceptual + quantizer losses, plus, after ``loss.disc_start_step``, the adaptive
GAN term; the discriminator's parameters are frozen during it, so it can never change them. The
**discriminator step** then sees the real images and the *detached* reconstructions, so its loss
cannot push the autoencoder. (The original project had neither safeguard: its discriminator loss
leaked into the generator. Notebook 02 shows the effect.)

The loop, logs, checkpoints and exact resume come from :class:`maskgit_lib.trainer.PhaseTrainer`.
A run writes to ``results/runs/vqgan-<profile>/``, with reconstruction grids ``recon_<step>.png``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from maskgit_lib import distributed as ddp
from maskgit_lib.config import Config
from maskgit_lib.data.batches import training_batch, uint8_to_tensor
from maskgit_lib.data.prepared import PreparedData, prepare_data
from maskgit_lib.precision import autocast_for
from maskgit_lib.progress import progress_bar
from maskgit_lib.tokenizer.discriminator import PatchDiscriminator
from maskgit_lib.tokenizer.losses import (
    adaptive_weight,
    generator_adv_loss,
    hinge_d_loss,
    perceptual_loss,
    reconstruction_loss,
)
from maskgit_lib.tokenizer.perceptual import load_lpips
from maskgit_lib.tokenizer.reconstruction import evaluate_reconstruction
from maskgit_lib.tokenizer.vqgan import VQGAN
from maskgit_lib.trainer import PhaseTrainer, check_resumable

ARCHITECTURE_SECTIONS = ("vqgan",)  # settings a resumed tokenizer must share with its checkpoint


class VQGANTrainer(PhaseTrainer):
    """Trains a :class:`VQGAN` with its discriminator. Use ``fit()``, or ``train_step()`` by hand."""

    phase = "vqgan"
    architecture_sections = ARCHITECTURE_SECTIONS
    curve_keys = (["rec_loss", "perceptual_loss", "g_loss", "d_loss"], ["val_psnr", "val_usage"])

    def __init__(
        self,
        config: Config,
        data: PreparedData | None = None,
        run_dir: str | Path | None = None,
        progress: bool = True,
        device: str | torch.device | None = None,
        log: Callable[[str], None] = print,
    ):
        self._setup_common(config, config.train_vqgan, run_dir, progress, device, log)
        with ddp.main_first():  # rank 0 prepares (renders, caches) the data set; the others read it
            self.data = data if data is not None else prepare_data(config.data, progress=self.progress)
        self.n_train = len(self.data.train_images)
        self.model = VQGAN(config.vqgan).to(self.device)
        self.forward = self._compiled(self.model)
        self.disc = PatchDiscriminator(config.discriminator).to(self.device)
        betas = tuple(self.cfg.betas)
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.opt_g = torch.optim.AdamW(trainable, lr=self.cfg.lr, betas=betas, weight_decay=self.cfg.weight_decay)
        self.opt_d = torch.optim.AdamW(self.disc.parameters(), lr=self.cfg.lr, betas=betas, weight_decay=self.cfg.weight_decay)
        self.lpips = self._perceptual()
        if self.cfg.channels_last:  # NHWC: what tensor-core convolutions read without transposing
            for module in (self.model, self.disc, self.lpips):
                if module is not None:
                    module.to(memory_format=torch.channels_last)

    def modules(self) -> dict[str, Any]:
        return {"model": self.model, "discriminator": self.disc, "opt_g": self.opt_g, "opt_d": self.opt_d}

    def _perceptual(self) -> nn.Module | None:
        loss_cfg = self.config.loss
        if loss_cfg.perceptual_weight <= 0:
            self.log("perceptual term: off (loss.perceptual_weight = 0)")
            return None
        model = load_lpips(loss_cfg.perceptual_net)
        if model is None:
            self.log(f"perceptual term is OFF: no LPIPS {loss_cfg.perceptual_net} weights here; run `maskgit prepare-weights` to turn it on")
            return None
        self.log(f"perceptual term: LPIPS ({loss_cfg.perceptual_net}) × {loss_cfg.perceptual_weight}")
        return model.to(self.device)

    # ------------------------------------------------------------------ one step

    def _adaptive_weight(self, nll: torch.Tensor, g_loss: torch.Tensor) -> torch.Tensor:
        """The adaptive GAN weight; under fp16 from the gradients of the scaled losses, like the
        training backward, so that small gradients do not underflow (the ratio is the same)."""
        scale = self.scaler.get_scale() if self.scaler.is_enabled() else 1.0
        return adaptive_weight(nll, g_loss, self.model.last_layer, self.config.loss.max_adaptive_weight, scale)

    def generator_step(self, images: torch.Tensor) -> tuple[dict[str, float], torch.Tensor]:
        """Update encoder, quantizer and decoder. The discriminator is frozen throughout."""
        loss_cfg = self.config.loss
        gan_on = self.step >= loss_cfg.disc_start_step
        self.disc.requires_grad_(False)
        with autocast_for(self.device, self.precision.name):
            recon, quant = self.forward(images)  # (B, 3, H, W)
            recon = recon.float()
            rec = reconstruction_loss(recon, images, loss_cfg)
            perc = perceptual_loss(self.lpips, recon, images)
            nll = rec + loss_cfg.perceptual_weight * perc
            total = nll + quant.loss
            stats = {"rec_loss": rec.item(), "perceptual_loss": perc.item(), "quant_loss": quant.loss.item()}
            if gan_on:
                g_loss = generator_adv_loss(self.disc(recon).float())
                weight = loss_cfg.disc_weight * self._adaptive_weight(nll, g_loss)
                total = total + weight * g_loss
                stats |= {"g_loss": g_loss.item(), "adaptive_weight": weight.item()}
        self.opt_g.zero_grad(set_to_none=True)
        self._backward(total)
        self._step(self.opt_g, self.model)
        self.disc.requires_grad_(True)
        stats |= {"loss": total.item(), "batch_usage": quant.usage.item(), "batch_perplexity": quant.perplexity.item()}
        return stats, recon.detach()

    def discriminator_step(self, images: torch.Tensor, recon: torch.Tensor) -> dict[str, float]:
        """Update the discriminator on real images and *detached* reconstructions."""
        with autocast_for(self.device, self.precision.name):
            real_logits, fake_logits = self.disc(images).float(), self.disc(recon.detach()).float()
            d_loss = hinge_d_loss(real_logits, fake_logits)
        self.opt_d.zero_grad(set_to_none=True)
        self._backward(d_loss)
        self._step(self.opt_d, self.disc)
        return {"d_loss": d_loss.item(), "d_real": real_logits.mean().item(), "d_fake": fake_logits.mean().item()}

    def leaky_step(self, images: torch.Tensor) -> dict[str, float]:
        """The original project's bug, kept for the ablation of notebook 02: the discriminator loss
        sees reconstructions that are *not* detached, and both optimizers step after both backward
        passes. The autoencoder is then also pushed to make its outputs look fake, and the
        discriminator also learns from the generator's loss."""
        loss_cfg = self.config.loss
        with autocast_for(self.device, self.precision.name):
            recon, quant = self.model(images)
            recon = recon.float()
            nll = reconstruction_loss(recon, images, loss_cfg) + loss_cfg.perceptual_weight * perceptual_loss(self.lpips, recon, images)
            g_loss = generator_adv_loss(self.disc(recon).float())
            weight = loss_cfg.disc_weight * self._adaptive_weight(nll, g_loss)
            total = nll + quant.loss + weight * g_loss
            real_logits, fake_logits = self.disc(images).float(), self.disc(recon).float()  # no detach: the leak
            d_loss = hinge_d_loss(real_logits, fake_logits)
        self.opt_g.zero_grad(set_to_none=True)
        self.opt_d.zero_grad(set_to_none=True)
        self._backward(total, retain_graph=True)
        self._backward(d_loss)
        self._step(self.opt_g, self.model, update_scale=False)  # both losses were scaled with the same scale
        self._step(self.opt_d, self.disc)
        return {
            "rec_loss": reconstruction_loss(recon, images, loss_cfg).item(), "loss": total.item(), "g_loss": g_loss.item(),
            "d_loss": d_loss.item(), "d_real": real_logits.mean().item(), "d_fake": fake_logits.mean().item(),
            "batch_usage": quant.usage.item(), "batch_perplexity": quant.perplexity.item(),
        }

    def train_step(self) -> dict[str, float]:
        images, _, epoch = training_batch(self.data, self.step, self.global_batch, self.cfg.seed)
        images = images[ddp.local_share(self.cfg.batch_size)].to(self.device)  # this rank's share (B, 3, H, W)
        if self.cfg.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        lr = self._set_lr(self.opt_g, self.opt_d)
        self.model.train()
        if self.config.loss.leaky_discriminator and self.step >= self.config.loss.disc_start_step:
            stats = self.leaky_step(images)
        else:
            stats, recon = self.generator_step(images)
            if self.step >= self.config.loss.disc_start_step:
                stats |= self.discriminator_step(images, recon)
        self.step += 1
        return {"step": self.step, "epoch": epoch, "lr": lr, **stats}

    # ------------------------------------------------------------------ validation

    def validate(self, n_images: int | None = None) -> dict[str, float]:
        """PSNR and codebook usage on the first ``n_images`` validation images (all if None)."""
        images = self.data.val_images[: n_images or len(self.data.val_images)]
        result, _ = evaluate_reconstruction(self.model, images, precision=self.precision.name)
        return result

    @torch.no_grad()
    def reconstruction_grid(self, n_images: int = 16) -> torch.Tensor:
        """Originals (top row) over reconstructions (bottom row): (2n, 3, H, W) in [-1, 1]."""
        self.model.eval()
        images = uint8_to_tensor(self.data.val_images[:n_images], self.device)
        recon, _ = self.model(images)
        return torch.cat([images, recon.float().clamp(-1, 1)]).cpu()

    def validate_and_show(self, n_images: int | None) -> dict[str, float]:
        from maskgit_lib.figures import image_grid, save_image

        result = self.validate(n_images)
        save_image(image_grid(self.reconstruction_grid(), n_cols=16), self.run_dir / f"recon_{self.step:06d}.png", scale=4)
        return result

    def result_text(self, summary: dict[str, Any]) -> str:
        return f"val PSNR {summary['val_psnr']:.2f} dB, codebook usage {summary['val_usage']:.1%} of {summary['codebook_size']}"

    def summary_extra(self) -> dict[str, Any]:
        return {
            "codebook_size": self.config.vqgan.quantizer.codebook_size,
            "tokens_per_image": (self.data.image_size_px // self.config.vqgan.downsample_factor) ** 2,
            "perceptual": self.lpips is not None,
        }


def train_vqgan(
    config: Config,
    ckpt_path: str | Path | None = None,
    max_steps: int | None = None,
    run_dir: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """What ``maskgit train --phase vqgan`` runs."""
    if ckpt_path:
        check_resumable(ckpt_path, VQGANTrainer.phase, config, VQGANTrainer.architecture_sections)
    return VQGANTrainer(config, run_dir=run_dir, progress=progress).run(ckpt_path, max_steps)


def compare_discriminator_leak(config: Config, data: PreparedData, steps: int, progress: bool = False) -> dict[str, list[dict]]:
    """Train the same tokenizer twice from the same seed with the GAN on from step 0: once as we do
    (detached fakes, frozen discriminator in the generator step), once with the original project's
    leak. Returns each run's per-step metric rows, plus a final validation row."""
    import copy
    import tempfile

    histories = {}
    for name, leaky in (("detached (ours)", False), ("leaky (original)", True)):
        variant = copy.deepcopy(config)
        variant.loss.leaky_discriminator, variant.loss.disc_start_step = leaky, 0
        variant.train_vqgan.max_steps, variant.train_vqgan.warmup_steps = steps, min(variant.train_vqgan.warmup_steps, steps // 10 + 1)
        with tempfile.TemporaryDirectory() as run_dir:
            trainer = VQGANTrainer(variant, data=data, run_dir=run_dir, progress=False, log=lambda m: None)
            rows = [trainer.train_step() for _ in progress_bar(range(steps), progress, name)]
            rows.append({"step": steps, **trainer.validate(512)})
        histories[name] = rows
    return histories
