"""`vla_train`: scripted-expert demonstrations from the embedded sim -> a small VLA -> models/<name>/.

    vla_train                              # full run (~10-15 min on 2 CPU cores) into models/sim_act
    vla_train --episodes 40 --steps 200 --out /tmp/quick

Seeded end to end (sim seeds, noise, weight init, batch order). Exit status: 0 = package written,
2 = export parity failed (no vla.yaml written), 1 = other error.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from vla_ros.training.dataset import DemoConfig, generate_demonstrations
from vla_ros.training.trainer import TrainConfig, export_trained, train_policy

DEFAULT_OUT = Path("models/sim_act")


def parse_args(argv: list[str]) -> argparse.Namespace:
    demo, train = DemoConfig(), TrainConfig()
    parser = argparse.ArgumentParser(prog="vla_train", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="package folder (default %(default)s)")
    parser.add_argument("--name", default="sim_act", help="model name in the manifest")
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
    parser.add_argument("--max-minutes", type=float, default=train.max_minutes,
                        help="training time budget; stops early past it (default %(default)s)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
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

    print(f"vla_train: generating {demo.episodes} expert episodes at {demo.image_size[1]}x{demo.image_size[0]} px",
          flush=True)
    data = generate_demonstrations(demo, progress)
    data_seconds = time.monotonic() - started
    print(f"vla_train: {len(data)} samples, expert success {data.expert_success_rate:.1%}, {data_seconds:.0f} s",
          flush=True)
    result = train_policy(data, config, demo, log=lambda line: print(line, flush=True))
    export = export_trained(result, demo, config, args.out, name=args.name,
                            extra_report={"data_seconds": round(data_seconds, 1), "samples": len(data),
                                          "expert_success_rate": data.expert_success_rate})
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


if __name__ == "__main__":
    raise SystemExit(main())
