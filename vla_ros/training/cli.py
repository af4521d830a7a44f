"""`vla_train`: scripted-expert demonstrations from the embedded sim -> a small VLA -> models/<name>/.

    vla_train                              # full run (~10-15 min on 2 CPU cores) into models/sim_act
    vla_train --episodes 40 --steps 200 --out /tmp/quick
    vla_train --dataset DATASET [DATASET ...] --out /tmp/tuned   # on recorded runs (vla_export_dataset)
    vla_train --init models/sim_act --dataset DATASET --lr 1e-4 --out /tmp/tuned   # fine-tune sim_act on them
    vla_train --family flow                 # a flow-matching policy (with real-time chunking) into models/sim_flow
    vla_train --family ar                   # an autoregressive action-token policy into models/sim_ar

Seeded end to end (sim seeds, noise, weight init, batch order). Exit status: 0 = package written,
2 = export parity failed (no vla.yaml written), 1 = other error.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from vla_ros.training.dataset import DemoConfig, DemoDataset, generate_demonstrations
from vla_ros.training.trainer import TrainConfig, export_trained, load_initial_weights, train_policy

# family -> (default package folder and name, "module:function" that trains and exports it; None = this module's)
FAMILIES = {
    "film": ("sim_act", None),
    "ar": ("sim_ar", "vla_ros.training.train_autoregressive:train_and_export"),
    "flow": ("sim_flow", "vla_ros.training.train_flow:train_and_export"),
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    demo, train = DemoConfig(), TrainConfig()
    parser = argparse.ArgumentParser(prog="vla_train", description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=sorted(FAMILIES), default="film",
                        help="film: FiLM-CNN continuous chunks (sim_act); ar: autoregressive action tokens with a KV "
                             "cache; flow: flow-matching chunks with real-time chunking (default %(default)s)")
    parser.add_argument("--out", type=Path, default=None, help="package folder (default models/<name>)")
    parser.add_argument("--name", default=None, help="model name in the manifest (default: sim_act, sim_ar or "
                                                     "sim_flow after --family)")
    parser.add_argument("--episodes", type=int, default=demo.episodes, help="expert episodes (default %(default)s)")
    parser.add_argument("--data-seed", type=int, default=demo.seed, help="first sim seed (default %(default)s)")
    parser.add_argument("--image-size", type=int, nargs=2, default=list(demo.image_size), metavar=("H", "W"),
                        help="camera size the sim renders and the model sees (default %(default)s)")
    parser.add_argument("--horizon", type=int, default=demo.horizon, help="chunk length (default %(default)s)")
    parser.add_argument("--model-period", type=float, default=demo.model_period,
                        help="s between chunk steps (default %(default)s)")
    parser.add_argument("--noise", type=float, default=demo.noise_max,
                        help="max DART perturbation, rad (default %(default)s)")
    parser.add_argument("--steps", type=int, default=train.steps, help="optimizer steps (default %(default)s)")
    parser.add_argument("--batch-size", type=int, default=train.batch_size, help="default %(default)s")
    parser.add_argument("--lr", type=float, default=train.learning_rate, help="default %(default)s")
    parser.add_argument("--seed", type=int, default=train.seed, help="training seed (default %(default)s)")
    parser.add_argument("--threads", type=int, default=train.threads, help="torch threads, 1 or 2")
    parser.add_argument("--dataset", type=Path, nargs="+", default=None, metavar="DIR",
                        help="train on LeRobot dataset(s) written by vla_export_dataset instead of generating "
                             "scripted-expert demonstrations (joint-position commands, one camera size)")
    parser.add_argument("--init", type=Path, default=None, metavar="PACKAGE",
                        help="fine-tune the torch weights of a package written by vla_train (e.g. models/sim_act) "
                             "instead of training from scratch; its normalization is kept, and its image size, "
                             "horizon and control period must match the data's; with --family ar: a trained "
                             "flow package (e.g. models/sim_flow) whose prefix encoder the AR policy starts from")
    parser.add_argument("--data-cache", type=Path, default=None, metavar="FILE.npz",
                        help="reuse the generated demonstrations in FILE.npz, or generate and save them there "
                             "(the file must come from the same --episodes/--data-seed/--image-size/--horizon)")
    parser.add_argument("--max-minutes", type=float, default=train.max_minutes,
                        help="training time budget; stops early past it (default %(default)s)")
    return parser.parse_args(argv)


def load_data(args: argparse.Namespace, demo: DemoConfig, progress) -> tuple[DemoDataset, DemoConfig, dict]:
    """Recorded datasets (--dataset) or scripted-expert demonstrations; the DemoConfig the package is built with
    (image size and episode count follow the recorded data)."""
    if args.dataset:
        data = load_datasets(args.dataset, demo.horizon, demo.model_period)
        # Recorded commands are the labels at every model period: no expert stride, no perturbation.
        demo = DemoConfig(episodes=len(data.instructions), seed=demo.seed, image_size=tuple(data.images.shape[1:3]),
                          horizon=demo.horizon, model_period=demo.model_period, expert_period=demo.model_period,
                          noise_max=0.0)
        print(f"vla_train: {len(data)} samples from {len(data.instructions)} recorded episode(s) in "
              f"{len(args.dataset)} dataset(s)", flush=True)
        return data, demo, {"datasets": [str(d) for d in args.dataset]}
    if args.data_cache is not None and args.data_cache.is_file():
        data = DemoDataset.load(args.data_cache)
        print(f"vla_train: {len(data)} samples from {args.data_cache}", flush=True)
        return data, demo, {"expert_success_rate": data.expert_success_rate, "data_cache": str(args.data_cache)}
    print(f"vla_train: generating {demo.episodes} expert episodes at {demo.image_size[1]}x{demo.image_size[0]} px",
          flush=True)
    data = generate_demonstrations(demo, progress)
    if args.data_cache is not None:
        data.save(args.data_cache)
    print(f"vla_train: {len(data)} samples, expert success {data.expert_success_rate:.1%}", flush=True)
    return data, demo, {"expert_success_rate": data.expert_success_rate}


def load_datasets(folders: list[Path], horizon: int, model_period: float) -> DemoDataset:
    """Every dataset as training arrays, concatenated; all must share the joints and the camera size."""
    from vla_ros.recording.training import TrainingDataError, load_training_data

    parts: list[tuple[Path, DemoDataset, list[str]]] = []
    for folder in folders:
        data = load_training_data(folder, horizon, model_period)
        joints = json.loads((folder / "meta" / "info.json").read_text())["features"]["observation.state"]["names"]
        if parts and joints != parts[0][2]:
            raise TrainingDataError(f"{folder}: joints {joints} differ from {parts[0][0]}'s {parts[0][2]}")
        if parts and data.images.shape[1:] != parts[0][1].images.shape[1:]:
            raise TrainingDataError(f"{folder}: images {data.images.shape[1:3]} differ from {parts[0][0]}'s "
                                    f"{parts[0][1].images.shape[1:3]}")
        if data.states.shape[1] != 6:
            raise TrainingDataError(f"{folder}: {data.states.shape[1]} joints {joints}; the bundled policy "
                                    "commands 6 arm joints")
        parts.append((folder, data, joints))
    offsets = np.cumsum([0] + [len(p[1].instructions) for p in parts[:-1]])
    datasets = [p[1] for p in parts]
    return DemoDataset(images=np.concatenate([d.images for d in datasets]),
                       tokens=np.concatenate([d.tokens for d in datasets]),
                       states=np.concatenate([d.states for d in datasets]),
                       targets=np.concatenate([d.targets for d in datasets]),
                       episode=np.concatenate([d.episode + o for d, o in zip(datasets, offsets)]).astype(np.int32),
                       task_names=[t for d in datasets for t in d.task_names],
                       instructions=[t for d in datasets for t in d.instructions],
                       successes=np.concatenate([d.successes for d in datasets]))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    default_name, trainer = FAMILIES[args.family]
    args.name = args.name or default_name
    args.out = args.out or Path("models") / args.name
    if args.family == "flow" and args.init is not None:
        print("vla_train: --init: --family film fine-tunes a sim_act-style package, --family ar starts its prefix "
              "from a trained flow package; --family flow takes none", file=sys.stderr)
        return 1
    os.environ.setdefault("MUJOCO_GL", "egl")
    try:
        demo = DemoConfig(episodes=args.episodes, seed=args.data_seed, image_size=tuple(args.image_size),
                          horizon=args.horizon, model_period=args.model_period, noise_max=args.noise)
        config = TrainConfig(steps=args.steps, batch_size=args.batch_size, learning_rate=args.lr, seed=args.seed,
                             threads=args.threads, max_minutes=args.max_minutes,
                             log_every=max(1, min(100, args.steps // 10)))
    except ValueError as exc:
        print(f"vla_train: {exc}", file=sys.stderr)
        return 1
    started = time.monotonic()

    def progress(done: int, total: int, seconds: float) -> None:
        if done == total or done % max(1, total // 10) == 0:
            bar = "#" * int(20 * done / total)
            print(f"data  [{bar:<20}] episode {done}/{total} {seconds:.0f} s", flush=True)

    try:
        data, demo, data_report = load_data(args, demo, progress)
        init = load_initial_weights(args.init, demo) if args.init and trainer is None else None
    except ValueError as exc:  # TrainingDataError / DatasetConfigError / TrainConfigError: names the folder
        print(f"vla_train: {exc}", file=sys.stderr)
        return 1
    if init is not None:  # the export rebuilds the package's module, with its kwargs
        config = dataclasses.replace(config, model_kwargs=init.model_kwargs)
        data_report["init"] = str(args.init)
    data_seconds = time.monotonic() - started
    if trainer is not None:
        try:
            return _train_family(trainer, args, config, data, demo)
        except ValueError as exc:  # TrainConfigError from --init: names the package
            print(f"vla_train: {exc}", file=sys.stderr)
            return 1
    result = train_policy(data, config, demo, log=lambda line: print(line, flush=True), init=init)
    export = export_trained(result, demo, config, args.out, name=args.name,
                            extra_report={"data_seconds": round(data_seconds, 1), "samples": len(data),
                                          **data_report})
    total = time.monotonic() - started
    size = sum(p.stat().st_size for p in Path(args.out).iterdir() if p.is_file())
    for parity in export.parity:
        print(f"vla_train: parity {parity.backend}: max_abs {parity.max_abs:.2e} cosine {parity.cosine:.6f} "
              f"{'ok' if parity.passed else 'FAILED'}")
    if not export.manifest_written:
        print(f"vla_train: export parity failed; no vla.yaml written in {args.out}", file=sys.stderr)
        return 2
    print(f"vla_train: wrote {args.out} ({size / 1e6:.2f} MB) in {total / 60:.1f} min "
          f"(data {data_seconds:.0f} s, training {result.seconds:.0f} s, {result.steps_done} steps)")
    return 0


def _train_family(trainer: str, args: argparse.Namespace, config: TrainConfig, data: DemoDataset,
                  demo: DemoConfig) -> int:
    """The multi-graph families train and export through their own module (same data, same exit codes)."""
    import importlib

    module_name, _, function = trainer.partition(":")
    train_and_export = getattr(importlib.import_module(module_name), function)
    written = train_and_export(data, demo, args.out, args.name, steps=config.steps, threads=config.threads,
                               seed=config.seed, max_minutes=config.max_minutes,
                               log=lambda line: print(line, flush=True),
                               **({"init": args.init} if args.init is not None else {}))
    if not written:
        print(f"vla_train: export parity failed; no vla.yaml written in {args.out}", file=sys.stderr)
        return 2
    print(f"vla_train: wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
